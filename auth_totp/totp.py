"""TOTP (RFC 6238) for the second factor: pure, stateless, no HTTP, no database.

pyotp computes the codes (RFC 4226's HMAC and truncation) and writes the
``otpauth://`` URI. This module adds what pyotp's ``verify`` does not do and
a server needs: the window of accepted steps, compared in constant time on
normalised ASCII digits, reporting *which* step matched (so the caller can
refuse a step it has already accepted: pyotp knows nothing of replay), and
the clock-drift probe, all in one pass that computes each step's code once
(:func:`probe`). Secrets, grouping for people who type the key, and code
normalisation are here too.

Parameters are the ones every authenticator app supports: SHA-1, 6 digits,
30-second steps. The window is the current step and one on each side, so
three codes are valid at any instant.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import pyotp

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


class _DecodedKey(pyotp.TOTP):
    """pyotp's TOTP on a key held as bytes: pyotp would decode its base32 text again for
    every code it computes (a probe computes up to 21)."""

    def __init__(self, secret: bytes):
        self._key = secret  # pyotp's __init__ already asks for it
        super().__init__(to_base32(secret), digits=DIGITS, interval=PERIOD)

    def byte_secret(self) -> bytes:
        return self._key


def _otp(secret: bytes) -> pyotp.TOTP:
    return _DecodedKey(secret)


def code_at_step(secret: bytes, step: int) -> str:
    return _otp(secret).generate_otp(step)


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


@dataclass(frozen=True)
class Probe:
    """Where a code matched around a time: in the window, or how far outside it."""

    #: the latest step within the window whose code it is; None when none is
    step: int | None = None
    #: for a code outside the window: steps from now to where it matches (positive:
    #: the device is ahead), within DRIFT_LIMIT; None when it matches nowhere near
    drift: int | None = None


def _matching_steps(otp: pyotp.TOTP, code: str, steps: range) -> list[int]:
    """Every step of *steps* whose code is *code*; each is computed once, compared in
    constant time."""
    wanted = code.encode()
    return [step for step in steps
            if step >= 0 and hmac.compare_digest(otp.generate_otp(step).encode(), wanted)]


def probe(secret: bytes, code: str, timestamp: float) -> Probe:
    """Look for the normalised *code* in the window, then (only if absent) around it.

    The window's codes are computed first and, when the code is not among
    them, the rest of the drift range: no step's code is computed twice. The
    drift only explains a refusal; it never accepts. The caller must still
    refuse a step at or below the last one it accepted (replay).
    """
    otp = _otp(secret)
    now = step_at(timestamp)
    inside = _matching_steps(otp, code, range(now - WINDOW, now + WINDOW + 1))
    if inside:
        return Probe(step=max(inside))
    outside = [step - now for step in
               _matching_steps(otp, code, range(now - DRIFT_LIMIT, now - WINDOW))
               + _matching_steps(otp, code, range(now + WINDOW + 1, now + DRIFT_LIMIT + 1))]
    return Probe(drift=min(outside, key=abs) if outside else None)


def match(secret: bytes, code: str, timestamp: float, window: int = WINDOW) -> int | None:
    """The latest step within *window* of *timestamp* whose code is *code*, or None."""
    now = step_at(timestamp)
    found = _matching_steps(_otp(secret), code, range(now - window, now + window + 1))
    return max(found) if found else None


def otpauth_uri(secret_b32: str, login: str, issuer: str) -> str:
    """The provisioning URI authenticator apps read from the QR code.

    pyotp leaves out ``algorithm``, ``digits`` and ``period`` when they are
    the defaults; they are written out all the same (DESIGN 6), for apps that
    do not assume them.
    """
    uri = pyotp.TOTP(secret_b32, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=login, issuer_name=issuer)
    return uri + "&" + urlencode({"algorithm": "SHA1", "digits": DIGITS, "period": PERIOD})
