"""The server's master keys, the keys derived from them, and sealed values.

The keyring is a JSON file in the data directory (mode 0600, refused when
others can read it) or the ``ERPCORE_SECRET_KEYS`` environment variable::

    {"primary": "7f3a09c2", "keys": {"51be40d7": "<base64 32 bytes>", "7f3a09c2": "..."}}

Key ids are random, so two keyrings never name different keys alike. The
database records the id and a fingerprint of every key that sealed its
values (:meth:`Keyring.fingerprints`; never the keys): a server refuses to
start with a keyring that lacks one of them, rather than fail every code
check and seal new values with a key the old ones do not share.

Purpose keys (sessions, CSRF tokens, field encryption) are derived from the
primary master key with HKDF, so one leaked purpose key reveals nothing about
the others. Sealed values are AES-256-GCM, carry the id of the key that sealed
them, and bind associated data chosen by the caller (database, table, row,
field), so a value moved elsewhere does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENV_VAR = "ERPCORE_SECRET_KEYS"
SEAL_PREFIX = "v1"


class KeyringError(Exception):
    """The keyring is missing, malformed or unsafe; the message is one line."""


class KeyringMissing(KeyringError):
    """There is no keyring file (and no ``ERPCORE_SECRET_KEYS``)."""


class SealError(Exception):
    """A sealed value does not open: wrong key, wrong place, or tampered."""


def _new_key_id() -> str:
    return secrets.token_hex(4)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


class Keyring:
    """Master keys by id, one primary; loaded from a file or the environment."""

    def __init__(self, keys: dict[str, bytes], primary: str, path: Path | None = None):
        if primary not in keys:
            raise KeyringError("keyring: the primary key id is not among the keys")
        for kid, key in keys.items():
            if len(key) != 32:
                raise KeyringError(f"keyring: key {kid!r} is not 32 bytes")
        self.keys = dict(keys)
        self.primary = primary
        #: the file this keyring came from; None when from the environment
        self.path = path
        self._derived: dict[tuple[str, str], bytes] = {}

    # -- loading and saving -------------------------------------------------

    @classmethod
    def parse(cls, text: str, path: Path | None = None) -> Keyring:
        try:
            data = json.loads(text)
            keys = {str(k): _unb64(v) for k, v in data["keys"].items()}
            primary = str(data["primary"])
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            where = path or ENV_VAR
            raise KeyringError(f"keyring {where} is malformed") from exc
        return cls(keys, primary, path)

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        kid = _new_key_id()
        return cls({kid: secrets.token_bytes(32)}, kid, path)

    @classmethod
    def from_environment_or(cls, path: Path) -> Keyring:
        """The keyring of ``ERPCORE_SECRET_KEYS`` when set, else the file *path*."""
        if os.environ.get(ENV_VAR):
            return cls.parse(os.environ[ENV_VAR])
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError as exc:
            raise KeyringMissing(f"keyring {path} is missing") from exc
        except OSError as exc:
            raise KeyringError(f"keyring {path} cannot be read: {exc.strerror}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(
                f"keyring {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyringError(f"keyring {path} cannot be read") from exc
        return cls.parse(text, path)

    def save(self) -> None:
        """Write the keyring atomically with mode 0600."""
        if self.path is None:
            raise KeyringError(f"keyring comes from {ENV_VAR}; change that variable instead")
        data = {"primary": self.primary, "keys": {k: _b64(v) for k, v in self.keys.items()}}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, self.path)

    def reload(self) -> None:
        """Re-read the file: another process may have rotated the keys."""
        if self.path is not None and self.path.exists():
            fresh = Keyring.load(self.path)
            self.keys, self.primary = fresh.keys, fresh.primary
            self._derived.clear()

    def rotate(self) -> str:
        """Add a new primary key and return its id; old keys stay to open old values."""
        kid = _new_key_id()
        while kid in self.keys:
            kid = _new_key_id()
        self.keys[kid] = secrets.token_bytes(32)
        self.primary = kid
        self._derived.clear()
        return kid

    def fingerprints(self) -> dict[str, str]:
        """A fingerprint of each key, by id: safe to store, reveals nothing of the key."""
        return {kid: self.derive("fingerprint", kid)[:8].hex() for kid in self.keys}

    # -- derived keys ----------------------------------------------------------

    def derive(self, purpose: str, kid: str | None = None) -> bytes:
        """A 32-byte key for *purpose*, derived with HKDF from master key *kid*."""
        kid = kid or self.primary
        cache_key = (kid, purpose)
        if cache_key not in self._derived:
            master = self._master(kid)
            hkdf = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=f"erpcore:{purpose}".encode(),
            )
            self._derived[cache_key] = hkdf.derive(master)
        return self._derived[cache_key]

    def _master(self, kid: str) -> bytes:
        if kid not in self.keys:
            self.reload()
        if kid not in self.keys:
            raise SealError(f"unknown key id {kid!r}")
        return self.keys[kid]

    # -- sealing ---------------------------------------------------------------

    def seal(self, plaintext: str, associated_data: str) -> str:
        """Encrypt *plaintext* with the primary field key, bound to *associated_data*."""
        nonce = secrets.token_bytes(12)
        key = self.derive("field-encryption")
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), associated_data.encode())
        return f"{SEAL_PREFIX}${self.primary}${_b64(nonce + sealed)}"

    def unseal(self, value: str, associated_data: str) -> str:
        """Decrypt a value made by :meth:`seal`; :class:`SealError` if it does not open."""
        try:
            prefix, kid, payload = value.split("$", 2)
            raw = _unb64(payload)
        except (ValueError, binascii.Error) as exc:
            raise SealError("malformed sealed value") from exc
        if prefix != SEAL_PREFIX or len(raw) < 13:
            raise SealError("malformed sealed value")
        key = self.derive("field-encryption", kid)
        try:
            plain = AESGCM(key).decrypt(raw[:12], raw[12:], associated_data.encode())
        except InvalidTag as exc:
            raise SealError("sealed value does not open here") from exc
        return plain.decode()
