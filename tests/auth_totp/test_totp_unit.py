"""The TOTP math against RFC 6238's vectors and an independent implementation."""

import hashlib
import hmac
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth_totp import totp

RFC_KEY = b"12345678901234567890"
#: RFC 6238 appendix B, SHA-1 column, truncated to 6 digits (the last 6 of the 8)
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def oracle(key: bytes, timestamp: float) -> str:
    """RFC 4226 dynamic truncation written out by hand, independent of the module."""
    mac = hmac.new(key, struct.pack(">Q", int(timestamp // 30)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


@pytest.mark.parametrize(("timestamp", "expected"), RFC_VECTORS)
def test_rfc_6238_vectors(timestamp, expected):
    assert totp.code_at(RFC_KEY, timestamp) == expected[-6:]
    assert oracle(RFC_KEY, timestamp) == expected[-6:]


@given(key=st.binary(min_size=20, max_size=20), timestamp=st.integers(0, 2**40))
def test_agrees_with_oracle(key, timestamp):
    assert totp.code_at(key, timestamp) == oracle(key, timestamp)


def test_window_is_one_step_each_side():
    key = totp.generate_secret()
    now = 1_700_000_015.0
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(key, now + offset * 30)
        assert totp.match(key, code, now) == step + offset
        assert totp.probe(key, code, now) == totp.Probe(step=step + offset)
    for offset in (-2, 2):
        code = totp.code_at(key, now + offset * 30)
        assert totp.match(key, code, now) is None
        assert totp.probe(key, code, now) == totp.Probe(drift=offset)


def test_drift_is_bounded():
    key = totp.generate_secret()
    now = 1_700_000_015.0
    assert totp.probe(key, totp.code_at(key, now + 10 * 30), now).drift == 10
    assert totp.probe(key, totp.code_at(key, now - 11 * 30), now) == totp.Probe()


def test_each_step_is_computed_once_per_check(monkeypatch):
    """A wrong code costs the 21 codes of the drift range, a right one the window's 3."""
    import pyotp

    key = totp.generate_secret()
    now = 1_700_000_015.0
    right = totp.code_at(key, now)
    wrong = next(c for c in ("000000", "000001", "000002")
                 if totp.match(key, c, now, window=totp.DRIFT_LIMIT) is None)
    computed = []
    original = pyotp.TOTP.generate_otp
    monkeypatch.setattr(pyotp.TOTP, "generate_otp",
                        lambda self, step: computed.append(step) or original(self, step))
    totp.probe(key, wrong, now)
    assert sorted(computed) == list(range(totp.step_at(now) - 10, totp.step_at(now) + 11))
    computed.clear()
    totp.probe(key, right, now)
    assert len(computed) == 3 and len(set(computed)) == 3


@pytest.mark.parametrize("typed", ["123456", "123 456", " 123456 ", "123-456", "123\u00a0456"])
def test_normalize_accepts_six_digits_with_separators(typed):
    assert totp.normalize(typed) == "123456"


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12345a",
                                   "١٢٣٤٥٦", "１２３４５６", "1" * 10_000, "12 34 5"])
def test_normalize_refuses_everything_else(typed):
    assert totp.normalize(typed) is None


def test_secret_is_160_bits_and_grouped_by_four():
    secret = totp.generate_secret()
    assert len(secret) == 20
    b32 = totp.to_base32(secret)
    assert len(b32) == 32 and totp.from_base32(b32) == secret
    assert totp.group(b32).split(" ") == [b32[i:i + 4] for i in range(0, 32, 4)]


def test_otpauth_uri():
    uri = totp.otpauth_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "marc@example.com", "Acme & Co")
    assert uri == ("otpauth://totp/Acme%20%26%20Co:marc%40example.com"
                   "?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
                   "&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30")
