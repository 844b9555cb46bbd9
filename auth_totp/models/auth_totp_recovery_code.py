"""Recovery codes: ten single-use codes for the day the phone is lost.

Each code is 16 symbols of Crockford's base32 (80 bits), shown as
``XXXX-XXXX-XXXX-XXXX``. Only its SHA-256 is stored: with 80 random bits a
fast hash is enough, and the hash does not depend on the server keys.
Using a code is one conditional UPDATE, so a code sent twice in parallel
is accepted once.
"""

from __future__ import annotations

import hashlib
import secrets

from erpcore.orm import Model, fields

COUNT = 10
LENGTH = 16
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, LENGTH, 4))


def normalize(text: str) -> str | None:
    """The 16 symbols of a recovery code as typed (any case, spaces, dashes), else None."""
    if len(text) > 64:
        return None
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\u00a0").translate(_READ_AS)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("ascii")).hexdigest()


class AuthTotpRecoveryCode(Model):
    _name = "auth_totp.recovery_code"
    _description = "2FA recovery code"

    user_id = fields.Many2one("res.users", "User", ondelete="CASCADE", required=True)
    code_hash = fields.Char("Code hash", size=64, required=True, index=True, secret=True)
    used_at = fields.Datetime("Used at")
    used_ip = fields.Char("Used from", size=64)

    def generate(self, user_id: int) -> list[str]:
        """Replace the user's codes by ten new ones; returns them, to be shown once."""
        codes = self.sudo()
        codes.search([("user_id", "=", user_id)]).unlink()
        plain = [new_code() for _ in range(COUNT)]
        for code in plain:
            codes.create({"user_id": user_id, "code_hash": digest(normalize(code))})
        return plain

    def consume(self, user_id: int, text: str, *, now: float, ip: str) -> bool:
        """Use the code *text* of *user_id*: True exactly once per code, even in parallel."""
        normalized = normalize(text)
        if normalized is None:
            return False
        found = self.sudo().search([("user_id", "=", user_id),
                                    ("code_hash", "=", digest(normalized)),
                                    ("used_at", "=", None)], limit=1)
        if not found:
            return False
        return found._write_if([("used_at", "=", None)], {
            "used_at": now, "used_ip": ip[:64]})

    def remaining(self, user_id: int) -> int:
        return self.sudo().search_count([("user_id", "=", user_id), ("used_at", "=", None)])
