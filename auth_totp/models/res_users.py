"""Two-factor authentication on users.

The secret is an :class:`~erpcore.orm.fields.Encrypted` field: sealed with
the server key and bound to this row, so a database dump alone reveals
nothing. ``totp_last_step`` is the time step of the last accepted code; a
code of that step or an earlier one is refused, and the update that records
a new step is conditional, so two workers cannot both accept one code.

The company policy (:mod:`auth_totp.policy`) is read here: whom it requires
2FA of, each one's deadline, and where a correct password leads once it has
passed (:meth:`ResUsers._mfa_url`).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from auth_totp import policy, totp
from auth_totp.settings import GRACE_HOURS, POLICY
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
    #: moves on each time a new secret replaces the current one (a new authenticator);
    #: a code's step is recorded only if the secret it matched is still the current one
    totp_key_generation = fields.Integer("TOTP key generation", default=0)
    #: when the policy began to require 2FA of this user: the policy was set, the
    #: account created, or an administrator reset their 2FA, whichever is last
    totp_grace_start = fields.Datetime("2FA grace period from")
    #: the deadline the reminder mails sent so far were about, and how many were sent
    totp_reminded_for = fields.Datetime("2FA deadline reminded")
    totp_reminders = fields.Integer("2FA deadline reminders sent", default=0)

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
        if url is None and self._totp_setup_due():
            return policy.SETUP_URL
        return url

    def _rpc_api_keys_only(self) -> bool:
        """With 2FA on, the password alone is refused over the external API: no
        code can be asked there, so scripts use an API key instead (Odoo's rule).
        So it is once the policy's deadline for this user has passed, 2FA on or
        not: the password alone must not pass there when the sign-in page would
        lead to the setup (before the deadline it still works, as on the page)."""
        return super()._rpc_api_keys_only() or self.totp_enabled or self._totp_setup_due()

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
        # the secret the code was checked against must still be the current one: a code
        # of an authenticator replaced meanwhile (:meth:`_totp_replace`) is refused
        generation = self.env.cache_row(user)["totp_key_generation"]
        accepted = user._write_if([("totp_last_step", "<", found.step),
                                   ("totp_key_generation", "=", generation)],
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
        step = wizard._first_code_step(code, now)
        if step is None:
            return False
        secret_b32 = wizard.secret  # read before the wizard is consumed
        if not wizard._unlink_once():
            return None
        self.sudo().write({
            "totp_secret": secret_b32,
            "totp_last_step": step,
            "totp_enabled_at": now,
            "totp_last_used": False,
        })
        return True

    def _totp_replace(self, wizard, code: str, now: float) -> bool | None:
        """Change the authenticator: the secret of *wizard* replaces the current one if
        *code* is right for it.

        Returns True when replaced; False when the code is wrong (nothing
        changes); None when the wizard was consumed by a parallel submission,
        or 2FA was turned off meanwhile. There is never a moment without 2FA:
        the old secret stays until the new one takes its place, in one
        transaction that first claims the row with a conditional UPDATE (2FA
        still on) and consumes the wizard once. From the commit, a code of
        the old app is refused, even one checked in parallel
        (:meth:`_totp_check` names the generation of the secret it read).
        """
        self.ensure_one()
        step = wizard._first_code_step(code, now)
        if step is None:
            return False
        secret_b32 = wizard.secret  # read before the wizard is consumed
        user = self.sudo()
        generation = user.totp_key_generation
        if not wizard._unlink_once() or not user._write_if(
                [("totp_enabled_at", "!=", None), ("totp_key_generation", "=", generation)],
                {"totp_last_step": step, "totp_key_generation": generation + 1}):
            return None
        user.write({"totp_secret": secret_b32})
        return True

    def _totp_reset(self, now: float) -> None:
        """An administrator's reset: 2FA off and, under a policy, a new grace period."""
        self._totp_disable()
        self.sudo().write({"totp_grace_start": now})

    def _totp_disable(self) -> None:
        """Turn 2FA off: forget the secret, the recovery codes and the trusted browsers."""
        for user in self.sudo():
            user.write({"totp_secret": False, "totp_last_step": 0, "totp_enabled_at": False})
            user.env["auth_totp.recovery_code"].sudo().search(
                [("user_id", "=", user.id)]).unlink()
            user.env["auth_totp.device"].sudo().search([("user_id", "=", user.id)]).unlink()

    # -- the company policy (auth_totp.policy) -------------------------------------

    def create(self, vals: dict) -> ResUsers:
        # a new account's grace period starts at its creation
        return super().create({"totp_grace_start": self.env.now, **vals})

    def _totp_required(self) -> bool:
        """Whether the policy requires 2FA of this user, whether it is on or not."""
        self.ensure_one()
        level = self.env.setting(POLICY.key)
        if level != "admins":  # "all" or "optional": no group to read
            return policy.requires(level, False)
        return policy.requires(level, self._is_admin())

    def _totp_deadline(self) -> dt.datetime | None:
        """When this user must have 2FA on (naive UTC), if the policy requires it and it
        is off; else None."""
        self.ensure_one()
        user = self.sudo()
        if user.totp_enabled or not user._totp_required():
            return None
        return policy.deadline(user.totp_grace_start, self.env.setting(GRACE_HOURS.key))

    def _totp_setup_due(self) -> bool:
        """Whether this user's deadline has passed: their sign-in goes to the setup."""
        deadline = self._totp_deadline()
        return deadline is not None and policy.timestamp(deadline) <= self.env.now

    def _totp_notice(self, format_datetime: Callable[[dt.datetime], str]) -> str:
        """What every page tells this user about the policy, in their language, with
        the deadline written by *format_datetime* (their time zone); '' when nothing.

        Before the deadline, the date from which 2FA will be required; after it
        (a session opened before the deadline lives on), that it is required.
        """
        if not self or self.env.setting(POLICY.key) == "optional":
            return ""  # the common case costs no query
        deadline = self._totp_deadline()
        if deadline is None:
            return ""
        if policy.timestamp(deadline) > self.env.now:
            return self.env._("Two-factor authentication will be required for your account "
                              "from {date}.", date=format_datetime(deadline))
        return self.env._("Two-factor authentication is required for your account since "
                          "{date}: your next sign-in will ask you to turn it on.",
                          date=format_datetime(deadline))

    def _totp_pending_deadlines(self) -> dict[int, dt.datetime]:
        """The deadline of every active user the policy requires 2FA of who has not
        turned it on, by user id (past deadlines included).

        The hook of the reminder mails: a periodic job picks the deadlines
        near enough and sends each user one message
        (``_totp_deadline_reminder`` in the mail issue).
        """
        users = self.sudo().search([("active", "=", True)])
        found = {}
        for user in users:
            deadline = user._totp_deadline()
            if deadline is not None:
                found[user.id] = deadline
        return found

    def _totp_deadlines_between(self, start: float, end: float) -> dict[int, dt.datetime]:
        """The deadlines in (*start*, *end*] of the active users the policy requires 2FA
        of who have not turned it on, by user id: one search, whatever the number of users
        (the reminder job runs in a transaction of its own and must stay short)."""
        level = self.env.setting(POLICY.key)
        if level == "optional":
            return {}
        grace_hours = self.env.setting(GRACE_HOURS.key)
        grace = grace_hours * 3600
        domain = [("active", "=", True), ("totp_enabled_at", "=", None),  # 2FA off
                  ("totp_grace_start", ">", start - grace),
                  ("totp_grace_start", "<=", end - grace)]
        if level == "admins":
            domain.append(("group_ids", "in", [self.env.ref("base.group_system").id]))
        return {user.id: policy.deadline(user.totp_grace_start, grace_hours)
                for user in self.sudo().search(domain)}

    def _totp_set_policy(self, level: str, grace_hours: int, *, now: float,
                         actor_id: int | None, ip: str, detail: str = "") -> bool:
        """Set the policy to *level* with *grace_hours*; returns whether anything changed.

        The users the new level requires 2FA of and the old one did not get
        their grace period from *now*; the change is an audit event naming
        who made it (*actor_id*, or the command line when *ip* is ``cli``).
        Values are checked first (:class:`erpcore.settings.SettingError`).
        """
        settings = self.env.registry.settings
        level = POLICY.parse(level)
        grace_hours = GRACE_HOURS.parse(str(grace_hours))
        old = (self.env.setting(POLICY.key), self.env.setting(GRACE_HOURS.key))
        if (level, grace_hours) == old:
            return False
        admins, others = policy.newly_required(old[0], level)
        if admins or others:
            domain = []
            if not (admins and others):
                group = self.env.ref("base.group_system").id
                domain = [("group_ids", "in" if admins else "not in", [group])]
            self.sudo().search(domain).write({"totp_grace_start": now})
        settings.set(self.env.conn, POLICY.key, level)
        settings.set(self.env.conn, GRACE_HOURS.key, grace_hours)
        summary = f"{level}, {grace_hours} h (was {old[0]}, {old[1]} h)"
        self.env["auth_totp.event"].record(
            None, "policy_changed", now=now, ip=ip, actor_id=actor_id,
            detail=f"{detail}: {summary}" if detail else summary)
        return True

    # -- mail the policy sends ------------------------------------------------------------

    def _totp_invite(self, admin, now: float) -> bool:
        """Invite this user, by mail, to turn 2FA on; *admin* is named in it. Returns
        whether a mail was queued.

        The mail links to Préférences; it signs no one in. Without outgoing
        mail (no SMTP server: the outbox would keep it unsent), or without an
        address, nothing is queued: False, and the page shows the
        administrator the link to give the user.
        """
        self.ensure_one()
        if not self.env.config.smtp_server:
            return False
        return bool(self.env["mail.mail"]._queue(
            self.sudo(), "auth_totp.invitation", "auth_totp.mail_invitation",
            {"at": now, "admin": admin.sudo().name}, now=now))

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
        promoted = self.browse()
        if "group_ids" in vals and self.env.setting(POLICY.key) == "admins":
            promoted = self.browse([u.id for u in self if not u._is_admin()])
        result = super().write(vals)
        # an administrator from now on: the "admins" policy begins to apply to them now
        promoted = self.browse([u.id for u in promoted if u._is_admin()])
        if promoted and self.env.now is not None:
            promoted.sudo().write({"totp_grace_start": self.env.now})
        if vals.get("password"):
            # a new password revokes every trusted browser of these users
            self.env["auth_totp.device"].sudo().search([("user_id", "in", self.ids)]).unlink()
        return result
