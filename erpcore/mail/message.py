"""Building the message that goes on the wire from an outbox row.

Every message is plain text with an HTML alternative, says it was sent by a
machine (``Auto-Submitted: auto-generated``, RFC 3834, so that vacation
replies stay quiet) and keeps the ``Message-ID`` given when it was queued:
a message sent twice after a crash is recognisably the same message.
"""

from __future__ import annotations

import email.policy
import email.utils
import uuid
from email.message import EmailMessage
from typing import Any


def new_message_id(sender: str) -> str:
    """A fresh ``Message-ID`` in the sender's domain (no host name look-up)."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def build_message(row: Any, sender: str, now: float) -> EmailMessage:
    """The message for outbox *row* (``email_to``, ``subject``, ``body_text``,
    ``body_html``, ``message_id``), from *sender*, dated *now*."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = row.email_to
    message["Subject"] = row.subject
    message["Date"] = email.utils.formatdate(now, localtime=False)
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(row.body_text or "", charset="utf-8")
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html", charset="utf-8")
    return message
