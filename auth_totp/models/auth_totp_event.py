"""The audit trail of two-factor authentication, readable by administrators.

Every event is also written to the log. Neither ever holds a code, a secret,
a recovery code or a token: only who, what, when and from where.

Recording an event is also where its owner is told: each event of
:data:`MAILED` queues a mail to the user (``mail.mail``) in the same
transaction, so the event and its mail are committed together or not at all.
"""

from __future__ import annotations

import logging

from erpcore.orm import Model, fields

_logger = logging.getLogger("auth_totp.audit")


def _(text: str) -> str:
    """Mark *text* for extraction; it is translated when shown (:meth:`AuthTotpEvent.label`)."""
    return text


EVENTS = [
    ("enabled", _("2FA enabled")),
    ("disabled", _("2FA disabled")),
    ("success", _("Code accepted")),
    ("failure", _("Wrong code")),
    ("reuse", _("Code used twice")),
    ("lockout", _("Too many failures: waiting")),
    ("recovery_used", _("Recovery code used")),
    ("recovery_regenerated", _("New recovery codes")),
    ("device_trusted", _("Browser trusted")),
    ("device_used", _("Trusted browser skipped the code")),
    ("device_revoked", _("Trusted browser revoked")),
    ("authenticator_changed", _("Authenticator changed")),
    ("devices_revoked_by_admin", _("Trusted browsers revoked by an administrator")),
    ("invited", _("Invited to turn 2FA on")),
    ("policy_changed", _("2FA policy changed")),
]

#: the events the owner of the account hears of, each with its mail template
#: (auth_totp/views/mail_templates.xml); the mail's kind is ``auth_totp.EVENT``
MAILED = {
    "enabled": "auth_totp.mail_enabled",
    "disabled": "auth_totp.mail_disabled",
    "recovery_used": "auth_totp.mail_recovery_used",
    "recovery_regenerated": "auth_totp.mail_recovery_regenerated",
    "authenticator_changed": "auth_totp.mail_authenticator_changed",
    "device_trusted": "auth_totp.mail_device_trusted",
    "lockout": "auth_totp.mail_lockout",
}


class AuthTotpEvent(Model):
    _name = "auth_totp.event"
    _description = "2FA event"
    _order = "id desc"

    #: whose 2FA it concerns; none for a change that concerns everyone (the policy)
    user_id = fields.Many2one("res.users", "User", ondelete="CASCADE")
    #: who did it, when not the user (an administrator disabling 2FA, say)
    actor_id = fields.Many2one("res.users", "By", ondelete="SET NULL")
    event = fields.Selection(EVENTS, "Event", required=True)
    ip = fields.Char("IP address", size=64)
    detail = fields.Char("Detail", size=256)
    create_date = fields.Datetime("When")

    def record(self, user_id: int | None, event: str, *, now: float, ip: str = "",
               actor_id: int | None = None, detail: str = "") -> None:
        """Store and log one event. *detail* must never hold a secret."""
        self.sudo().create({
            "user_id": user_id, "actor_id": actor_id or None, "event": event,
            "ip": ip[:64], "detail": detail[:256],
            "create_date": now,
        })
        _logger.info("2fa %s user=%s actor=%s ip=%s %s", event, user_id, actor_id or "-",
                     ip or "-", detail)
        if event in MAILED:
            self._tell_owner(user_id, event, now=now, ip=ip, actor_id=actor_id)

    def _tell_owner(self, user_id: int, event: str, *, now: float, ip: str,
                    actor_id: int | None) -> None:
        """Queue the mail of *event* to the user, with what it says (never a secret)."""
        env = self.env(su=True)
        user = env["res.users"].browse(user_id)
        values: dict = {"at": now, "ip": "" if ip == "cli" else ip[:64]}
        if event == "disabled":
            if ip == "cli":
                values["by"] = "cli"
            elif actor_id and actor_id != user_id:
                values.update(by="admin", actor=env["res.users"].browse(actor_id).name)
            else:
                values["by"] = "self"
        elif event == "recovery_used":
            values["left"] = env["auth_totp.recovery_code"].remaining(user_id)
        elif event == "device_trusted":
            # the browser this event trusted: the user's newest, created just before
            device = env["auth_totp.device"].search([("user_id", "=", user_id)], order="id desc",
                                                    limit=1)
            values.update(browser=device.browser or "?", system=device.system or "?")
        env["mail.mail"]._queue(user, f"auth_totp.{event}", MAILED[event], values, now=now)

    def label(self) -> str:
        return self.env._(dict(EVENTS)[self.event])
