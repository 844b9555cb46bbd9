from erpcore.orm import Model, fields


class ResUsers(Model):
    _inherit = "res.users"

    test_mfa_enabled = fields.Boolean("Fake second factor")

    def _mfa_url(self) -> str | None:
        if self.sudo().test_mfa_enabled:
            return "/test_mfa/verify"
        return super()._mfa_url()
