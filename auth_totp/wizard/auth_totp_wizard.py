"""The activation wizard: a new secret waiting for its first correct code.

The pending secret is sealed like the user's own, never kept in the session
(sessions are stored in clear in the database). A wizard lives ten minutes;
an expired one is refused and the user starts again with a new secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import io

import qrcode
from qrcode.image.pil import PilImage

from auth_totp import totp
from erpcore.orm import Model, fields

LIFETIME = 600


class AuthTotpWizard(Model):
    _name = "auth_totp.wizard"
    _description = "2FA activation"

    user_id = fields.Many2one("res.users", "User", ondelete="CASCADE", required=True)
    secret = fields.Encrypted("Pending secret")
    create_date = fields.Datetime("Started")

    def start(self, user_id: int, now: float) -> AuthTotpWizard:
        """A new wizard with a new secret; the user's earlier unfinished ones are dropped."""
        wizards = self.sudo()
        wizards.search([("user_id", "=", user_id)]).unlink()
        wizards.search([("create_date", "<", now - LIFETIME)]).unlink()  # abandoned by anyone
        return wizards.create({
            "user_id": user_id,
            "secret": totp.to_base32(totp.generate_secret()),
            "create_date": now,
        })

    def owned_by(self, wizard_id: int, user_id: int) -> AuthTotpWizard:
        found = self.sudo().browse(wizard_id).exists()
        return found if found and found.user_id.id == user_id else self.browse()

    def expired(self, now: float) -> bool:
        started = self.create_date.replace(tzinfo=dt.UTC).timestamp()
        return now - started > LIFETIME

    def issuer(self) -> str:
        return (self.env.setting("auth_totp.issuer") or self.env.setting("base.company_name")
                or "erpcore")

    def uri(self) -> str:
        return totp.otpauth_uri(self.secret, self.user_id.login, self.issuer())

    def qr_data_uri(self) -> str:
        """The otpauth URI as a QR code, a PNG in a data URI (no URL ever carries the secret)."""
        image = qrcode.make(self.uri(), image_factory=PilImage, box_size=6, border=2,
                            error_correction=qrcode.constants.ERROR_CORRECT_M)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def grouped_secret(self) -> str:
        return totp.group(self.secret)

    def _first_code_step(self, code: str, now: float) -> int | None:
        """The step within the window whose code of this wizard's secret is *code*, or None.

        Pure arithmetic on the pending secret: activation and a change of
        authenticator call it before they consume the wizard.
        """
        normalized = totp.normalize(code)
        if not normalized or not self.secret:
            return None
        return totp.match(totp.from_base32(self.secret), normalized, now)
