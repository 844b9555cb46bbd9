"""The audit trail of API keys: made and revoked, by whom, from where.

Base keeps its own (``auth_totp.event`` belongs to ``auth_totp``, which base
cannot depend on). A row names the key by its id and description, not by a
relation, so it outlives the key. Use is recorded on the key itself (last
use and address), not here: one row per call would flood the table. Every
event is also logged. Never a key, an index or a hash: only who, what, when.
"""

from __future__ import annotations

import logging

from erpcore.orm import Model, fields

_logger = logging.getLogger("erpcore.apikeys.audit")


def _(text: str) -> str:
    """Mark *text* for extraction; it is translated when shown (:meth:`label`)."""
    return text


EVENTS = [
    ("created", _("API key created")),
    ("revoked", _("API key revoked")),
]


class ResUsersApikeysEvent(Model):
    _name = "res.users.apikeys.event"
    _description = "API key event"
    _order = "id desc"
    _rec_name = "key_name"

    user_id = fields.Many2one("res.users", "User", ondelete="CASCADE", required=True)
    #: who did it, when not the key's owner (an administrator); empty: the command line
    actor_id = fields.Many2one("res.users", "By", ondelete="SET NULL")
    event = fields.Selection(EVENTS, "Event", required=True)
    key_ref = fields.Integer("Key id")
    key_name = fields.Char("Key", size=256)
    ip = fields.Char("IP address", size=64)
    detail = fields.Char("Detail", size=256)
    create_date = fields.Datetime("When")

    def record(self, user_id: int, event: str, key, *, now: float, actor_id: int | None = None,
               ip: str = "", detail: str = "", name: str | None = None) -> None:
        """Store and log one event about *key* (its *name* when it is already gone)."""
        key_name = name if name is not None else key.sudo().name
        self.sudo().create({
            "user_id": user_id, "actor_id": actor_id or None, "event": event,
            "key_ref": key.id, "key_name": (key_name or "")[:256], "ip": ip[:64],
            "detail": detail[:256], "create_date": now,
        })
        _logger.info("apikey %s key=%s user=%s actor=%s ip=%s %s", event, key.id, user_id,
                     actor_id or "-", ip or "-", detail)

    def label(self) -> str:
        return self.env._(dict(EVENTS)[self.event])
