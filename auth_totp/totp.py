"""TOTP (RFC 6238) math: pure, stateless, no HTTP, no database.

The HOTP computation itself is the ``cryptography`` package's; this module
adds what a server needs around it: the time step, the window of accepted
steps, constant-time matching that reports *which* step matched (so the
caller can refuse a step it has already accepted), the clock-drift probe,
code normalisation, secrets and the ``otpauth://`` URI.

Parameters are the ones every authenticator app supports: SHA-1, 6 digits,
30-second steps. The window is the current step and one on each side, so
three codes are valid at any instant.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.hotp import HOTP

DIGITS = 6
PERIOD = 30
#: steps accepted on each side of the current one
WINDOW = 1
#: how far (in steps) a code is looked for to tell the user their clock is off
DRIFT_LIMIT = 10
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends

_SPACES = {" ", "\u00a0", "\u202f", "\t", "-"}


def generate_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def to_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it: base32, no padding."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def from_base32(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 8)
    return base64.b32decode(padded.upper())


def group(text: str, size: int = 4) -> str:
    """``ABCDEFGH`` -> ``ABCD EFGH``, for people who type the key by hand."""
    return " ".join(text[i:i + size] for i in range(0, len(text), size))


def step_at(timestamp: float) -> int:
    return int(timestamp // PERIOD)


def code_at_step(secret: bytes, step: int) -> str:
    # HMAC-SHA-1 as RFC 6238 and every authenticator app use it; HMAC keeps SHA-1 sound here
    hotp = HOTP(secret, DIGITS, SHA1(), enforce_key_length=False)  # noqa: S303
    return hotp.generate(step).decode()


def code_at(secret: bytes, timestamp: float) -> str:
    return code_at_step(secret, step_at(timestamp))


def normalize(code: str) -> str | None:
    """Six ASCII digits from what the user typed (``"123 456"`` -> ``"123456"``), else None.

    Spaces and dashes are dropped; anything else that is not an ASCII digit
    (letters, Arabic-Indic or full-width digits) makes the code invalid.
    """
    if len(code) > 64:
        return None
    cleaned = "".join(ch for ch in code if ch not in _SPACES)
    if len(cleaned) != DIGITS or not all("0" <= ch <= "9" for ch in cleaned):
        return None
    return cleaned


def _matching_steps(secret: bytes, code: str, steps: range) -> list[int]:
    """Every step of *steps* whose code is *code*; each candidate is compared in constant time."""
    found = []
    for step in steps:
        if hmac.compare_digest(code_at_step(secret, step).encode(), code.encode()):
            found.append(step)
    return found


def match(secret: bytes, code: str, timestamp: float, window: int = WINDOW) -> int | None:
    """The latest step within *window* of *timestamp* whose code is *code*, or None.

    *code* must already be normalised. The caller must still refuse a step at
    or below the last one it accepted (replay).
    """
    now = step_at(timestamp)
    found = _matching_steps(secret, code, range(now - window, now + window + 1))
    return max(found) if found else None


def drift(secret: bytes, code: str, timestamp: float) -> int | None:
    """How many steps away *code* matches, outside the window but within DRIFT_LIMIT.

    Positive: the device is ahead; negative: behind. None when it matches nowhere.
    Used only to explain a refusal, never to accept.
    """
    now = step_at(timestamp)
    found = _matching_steps(secret, code, range(now - DRIFT_LIMIT, now + DRIFT_LIMIT + 1))
    outside = [s - now for s in found if abs(s - now) > WINDOW]
    return min(outside, key=abs) if outside else None


def otpauth_uri(secret_b32: str, login: str, issuer: str) -> str:
    """The provisioning URI authenticator apps read from the QR code."""
    label = f"{quote(issuer, safe='')}:{quote(login, safe='@')}"
    query = urlencode({"secret": secret_b32, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": PERIOD}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"
