"""The outbox: Odoo's ``mail.mail``, one row per message to send.

Addons queue messages with :meth:`MailMail._queue`, in the transaction of the
event they report: the event and its message are committed together or not
at all. The sender thread (:mod:`erpcore.mail.delivery`) does the rest.

No flood: a user receives at most one message of a kind (``kind``, e.g.
``auth_totp.enabled``) per :data:`FLOOD_WINDOW`. An event that comes while a
message of its kind waits unsent joins it (the message is rendered again
with the events it reports: the latest :data:`MAX_EVENTS`, and the number of
older ones); otherwise its message is due one window after the previous one,
and later events of the window join that one. Nothing is dropped.

Messages are rendered when queued, in the recipient's language and time
zone, from a QWeb template of the addon that sends them (calling
``base.mail_layout``). The values given must never hold a secret: no
password, code, recovery code, token or session id, and no link that signs
anyone in.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from erpcore.mail import delivery, outbox
from erpcore.mail.jobs import periodic_job
from erpcore.mail.message import new_message_id
from erpcore.mail.render import format_for, split_document
from erpcore.orm import Model, fields

_logger = logging.getLogger(__name__)

#: a user gets at most one message of a kind per this many seconds
FLOOD_WINDOW = 600
#: sent messages are kept this long for ``erpcore mail list``, then deleted
KEEP_SENT = 30 * 86400
#: a message lists at most this many events (the latest); it counts the others
MAX_EVENTS = 20

STATES = [("outgoing", "Outgoing"), ("sent", "Sent"), ("exception", "Delivery failed")]


class MailMail(Model):
    _name = "mail.mail"
    _description = "Outgoing mail"
    _order = "id desc"

    email_to = fields.Char("To", size=254, required=True)
    subject = fields.Char("Subject", required=True)
    body_text = fields.Char("Text")
    body_html = fields.Char("HTML")
    message_id = fields.Char("Message-ID", size=255, required=True)
    #: the flood key: one message of a kind per user per window
    kind = fields.Char("Kind", size=64, index=True)
    user_id = fields.Many2one("res.users", "Recipient", ondelete="SET NULL")
    #: the template and what it renders (JSON: the latest events, and how many are
    #: not listed), to render again as events join
    template = fields.Char("Template", size=128)
    events = fields.Char("Events")
    state = fields.Selection(STATES, "State", default="outgoing", index=True)
    create_date = fields.Datetime("Queued")
    #: its place in the flood window; retries are given up a day after it
    due_date = fields.Datetime("Due")
    scheduled_date = fields.Datetime("Next try", index=True)
    claimed_until = fields.Datetime("Claimed until")
    claim_token = fields.Char("Claim", size=32)
    attempts = fields.Integer("Attempts", default=0)
    sent_date = fields.Datetime("Sent")
    failure_reason = fields.Char("Last failure", size=500)

    def _queue(self, user: Any, kind: str, template: str, event: dict[str, Any], *,
               now: float, email_to: str | None = None) -> MailMail:
        """Queue (or join) the message of *kind* for *user* that reports *event*.

        *event* holds JSON values only, never a secret; the template gets the
        list of events as ``events``. The message goes to *email_to*, by
        default the user's address; with no address, nothing is queued.
        Returns the message, or an empty recordset.
        """
        user = user.sudo()
        address = email_to if email_to is not None else user.email
        if not address:
            _logger.info("user %s has no email address: no %s mail", user.id, kind)
            return self.browse()
        mails = self.sudo()
        waiting = mails.search([("user_id", "=", user.id), ("kind", "=", kind),
                                ("email_to", "=", address), ("state", "=", "outgoing"),
                                ("claimed_until", "=", None)], order="id desc", limit=1)
        if waiting:
            known = json.loads(waiting.events or "{}")
            events = [*known.get("events", []), event]
            omitted = known.get("omitted", 0) + max(len(events) - MAX_EVENTS, 0)
            events = events[-MAX_EVENTS:]
            rendered = self._render(user, template, events, omitted)
            if waiting._write_if([("state", "=", "outgoing"), ("claimed_until", "=", None)], {
                    "events": json.dumps({"events": events, "omitted": omitted}),
                    "subject": rendered.subject, "body_text": rendered.text,
                    "body_html": rendered.html}):
                delivery.note_queued(self.env.conn)
                return waiting
        last = mails.search([("user_id", "=", user.id), ("kind", "=", kind)],
                            order="due_date desc", limit=1)
        due = now
        if last and last.due_date:
            due = max(now, outbox.timestamp(last.due_date) + FLOOD_WINDOW)
        rendered = self._render(user, template, [event])
        mail = mails.create({
            "email_to": address, "subject": rendered.subject, "body_text": rendered.text,
            "body_html": rendered.html, "message_id": new_message_id(self.env.config.sender),
            "kind": kind, "user_id": user.id, "template": template,
            "events": json.dumps({"events": [event], "omitted": 0}), "create_date": outbox.utc(now),
            "due_date": outbox.utc(due), "scheduled_date": outbox.utc(due),
        })
        delivery.note_queued(self.env.conn)
        return mail

    def _render(self, user: Any, template: str, events: list[dict[str, Any]],
                omitted: int = 0) -> Any:
        """Subject, HTML and text of *template* for *user*, in their language and zone."""
        registry = self.env.registry
        lang = user.lang if user.lang in registry.languages else "en"
        env = self.env(context={**self.env.context, "lang": lang})
        from erpcore.db import get_parameter

        values = {
            "user": user, "events": events, "omitted": omitted, "lang": lang, "env": env,
            "_": env._,
            "base_url": self.env.config.base_url,
            "company_name": get_parameter(self.env.conn, "base.company_name", "") or "erpcore",
            "format_datetime": lambda when: format_for(when, user.tz, lang),
        }
        document = "<!DOCTYPE html>\n" + str(registry.render(template, values, lang))
        return split_document(document)

    def label(self) -> str:
        return dict(STATES)[self.state]


@periodic_job(interval=86400)
def forget_old_sent_mail(env: Any, now: float) -> None:
    """Delete sent messages older than :data:`KEEP_SENT`; failed ones stay until retried."""
    env["mail.mail"].sudo().search([("state", "=", "sent"),
                                    ("sent_date", "<", outbox.utc(now - KEEP_SENT))]).unlink()
