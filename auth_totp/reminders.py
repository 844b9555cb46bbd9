"""The mails that say a user's deadline is near: two days and one day before, once each.

Under a policy that requires 2FA (:mod:`auth_totp.policy`), a periodic job of
the mail sender (:mod:`erpcore.mail.jobs`) looks every half hour for the users
whose deadline comes within two days and who have not turned 2FA on, and
queues the reminder of the mail issue (``res.users._totp_deadline_reminder``).
What was sent is kept on the user with the deadline it was about, and is
recorded before the mail is queued by one conditional UPDATE, so each reminder
goes once; a new deadline (a reset, another grace period) brings its own.
When both are due at once (a grace period under a day), one mail goes, for
both.
"""

from __future__ import annotations

from auth_totp import policy
from erpcore.mail.jobs import periodic_job
from erpcore.orm.environment import Environment

#: how long before the deadline each reminder goes, in seconds
REMINDERS = (2 * 86400, 86400)


@periodic_job(interval=1800)
def send_deadline_reminders(env: Environment, now: float) -> None:
    users = env["res.users"].sudo()
    for uid, deadline in users._totp_deadlines_between(now, now + max(REMINDERS)).items():
        left = policy.timestamp(deadline) - now
        due = sum(1 for before in REMINDERS if left <= before)
        user = users.browse(uid)
        # recorded first, by one conditional UPDATE: a reminder for another deadline, or
        # fewer than are due now; so a run that overlaps another cannot send it twice
        if user._write_if(["|", "|", ("totp_reminded_for", "=", False),
                           ("totp_reminded_for", "!=", deadline), ("totp_reminders", "<", due)],
                          {"totp_reminded_for": deadline, "totp_reminders": due}):
            user._totp_deadline_reminder(deadline, now)
