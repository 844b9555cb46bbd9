"""Two-factor authentication on users.

The secret is an :class:`~erpcore.orm.fields.Encrypted` field: sealed with
the server key and bound to this row, so a database dump alone reveals
nothing. ``totp_last_step`` is the time step of the last accepted code; a
code of that step or an earlier one is refused, and the update that records
a new step is conditional, so two workers cannot both accept one code.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from auth_totp import totp
from erpcore.orm import Model, fields

_logger = logging.getLogger(__name__)


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    MALFORMED = "malformed"
    REUSED = "reused"
    DRIFT = "drift"
    #: the stored secret does not open with the server's keys: no code can be checked
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    #: for DRIFT: steps between the device's clock and the server's (positive: ahead)
    drift_steps: int = 0


class ResUsers(Model):
    _inherit = "res.users"

    totp_secret = fields.Encrypted("TOTP secret", groups="base.group_system")
    totp_last_step = fields.Integer("Last accepted TOTP step", default=0,
                                    groups="base.group_system")
    totp_enabled_at = fields.Datetime("2FA enabled on")
    totp_last_used = fields.Datetime("2FA last used")
    #: moves on at each new set of recovery codes; the form asking for one names it
    totp_recovery_generation = fields.Integer("Recovery codes generation", default=0)

    @property
    def totp_enabled(self) -> bool:
        """Whether a secret is stored, sealed or not.

        Deliberately not ``bool(totp_secret)``: a secret that no longer opens
        (keyring lost or replaced) must keep the second factor required, and
        fail closed, rather than quietly let the password alone sign in.
        """
        if not self:
            return False
        return bool(self.env.cache_row(self)["totp_secret"])

    def _totp_unavailable(self) -> bool:
        """Whether 2FA is on but its secret does not open with the server's keys."""
        unavailable = self.totp_enabled and not self.sudo().totp_secret
        if unavailable:
            _logger.error("user %s: the TOTP secret does not open with the server's keys "
                          "(keyring replaced?); only recovery codes can sign in", self.id)
        return unavailable

    def _mfa_url(self) -> str | None:
        url = super()._mfa_url()
        if url is None and self.totp_enabled:
            return "/web/login/totp"
        return url

    def _rpc_api_keys_only(self) -> bool:
        """With 2FA on, the password alone is refused over the external API: no
        code can be asked there, so scripts use an API key instead (Odoo's rule)."""
        return super()._rpc_api_keys_only() or self.totp_enabled

    def _login_values(self, now: float) -> dict:
        values = super()._login_values(now)
        if self.totp_enabled:  # a code, a recovery code or a trusted browser was used
            values["totp_last_used"] = now
        return values

    def _totp_check(self, code: str, now: float) -> Check:
        """Check *code* against this user's secret and accept it at most once.

        Guarantee: a code is accepted only if it matches a step within the
        window that is strictly later than the last accepted step, and the
        new step is recorded by one conditional UPDATE in the same
        transaction; of two transactions racing with one code, one wins.
        Throttling is the caller's job and comes first.
        """
        self.ensure_one()
        user = self.sudo()
        normalized = totp.normalize(code)
        if normalized is None:
            return Check(Verdict.MALFORMED)
        if user._totp_unavailable():
            return Check(Verdict.UNAVAILABLE)
        found = totp.probe(totp.from_base32(user.totp_secret), normalized, now)
        if found.step is None:
            return Check(Verdict.DRIFT, found.drift) if found.drift is not None \
                else Check(Verdict.WRONG)
        accepted = user._write_if([("totp_last_step", "<", found.step)],
                                  {"totp_last_step": found.step})
        return Check(Verdict.ACCEPTED if accepted else Verdict.REUSED)

    def _totp_enable(self, wizard, code: str, now: float) -> bool | None:
        """Turn 2FA on with the secret of *wizard* if *code* is right for it.

        Returns True when turned on; False when the code is wrong (nothing is
        stored); None when a parallel submission of the same wizard won.
        The wizard is consumed by one conditional DELETE, so of parallel
        submissions exactly one turns 2FA on.
        """
        self.ensure_one()
        normalized = totp.normalize(code)
        secret_b32 = wizard.secret
        step = totp.match(totp.from_base32(secret_b32), normalized, now) \
            if normalized and secret_b32 else None
        if step is None:
            return False
        if not wizard._unlink_once():
            return None
        self.sudo().write({
            "totp_secret": secret_b32,
            "totp_last_step": step,
            "totp_enabled_at": now,
            "totp_last_used": False,
        })
        return True

    def _totp_disable(self) -> None:
        """Turn 2FA off: forget the secret, the recovery codes and the trusted browsers."""
        for user in self.sudo():
            user.write({"totp_secret": False, "totp_last_step": 0, "totp_enabled_at": False})
            user.env["auth_totp.recovery_code"].sudo().search(
                [("user_id", "=", user.id)]).unlink()
            user.env["auth_totp.device"].sudo().search([("user_id", "=", user.id)]).unlink()

    # -- mail the policy sends (issue 11 calls these) ----------------------------------

    def _totp_invite(self, admin, now: float) -> None:
        """Invite each of these users, by mail, to turn 2FA on; *admin* is named in it.

        The mail links to Préférences; it signs no one in.
        """
        for user in self.sudo():
            user.env["mail.mail"]._queue(user, "auth_totp.invitation", "auth_totp.mail_invitation",
                                         {"at": now, "admin": admin.sudo().name}, now=now)

    def _totp_deadline_reminder(self, deadline: dt.datetime | float, now: float) -> None:
        """Tell each of these users, by mail, that 2FA is required from *deadline* on.

        *deadline* is a timestamp or a naive UTC datetime; the mail shows it in
        the user's time zone. The caller sends it once at each reminder date.
        """
        when = deadline if isinstance(deadline, (int, float)) else \
            deadline.replace(tzinfo=deadline.tzinfo or dt.UTC).timestamp()
        for user in self.sudo():
            user.env["mail.mail"]._queue(user, "auth_totp.deadline", "auth_totp.mail_deadline",
                                         {"at": now, "deadline": when}, now=now)

    def write(self, vals: dict) -> bool:
        result = super().write(vals)
        if vals.get("password"):
            # a new password revokes every trusted browser of these users
            self.env["auth_totp.device"].sudo().search([("user_id", "in", self.ids)]).unlink()
        return result
