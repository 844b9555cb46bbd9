"""Outgoing mail: the outbox (``mail.mail``, in the ``base`` addon) and its sender.

A message is written to the outbox in the transaction of the event it
reports, so one never exists without the other. The sender, a thread of
each server process (:mod:`erpcore.mail.delivery`), claims due messages,
talks SMTP with no transaction open (:mod:`erpcore.mail.transport`) and
records the outcome: sent, retried later (1 min, 5 min, 15 min, 1 h, ... up
to a day), or failed (:mod:`erpcore.mail.outbox`). The same loop runs the
periodic jobs of :mod:`erpcore.mail.jobs`.

Modules: ``render`` (template output -> subject, HTML, text; pure),
``message`` (the MIME message), ``transport`` (SMTP), ``outbox`` (claims
and outcomes), ``jobs`` (periodic jobs), ``delivery`` (the thread).
"""

from erpcore.mail.delivery import MailDelivery, start_mail_delivery
from erpcore.mail.jobs import periodic_job

__all__ = ["MailDelivery", "periodic_job", "start_mail_delivery"]
