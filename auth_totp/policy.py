"""The company policy: who must use two-factor authentication, and from when.

Three levels: ``optional`` (each user's choice), ``admins`` (required of
administrators, ``base.group_system``) and ``all`` (required of every
user), with a grace period in hours. A user's deadline is the grace period
counted from when the policy began to require 2FA of them: the policy was
set, their account was created, or an administrator reset their 2FA,
whichever is last. That moment is stamped on the user
(``res.users.totp_grace_start``) by each of those three doors, so the
deadline is one addition and a change of the grace period moves every
deadline at once.

Before the deadline the user signs in as before and is reminded on every
page; after it, a correct password leads to the setup page itself
(``/web/login/totp/setup``), which a half-signed-in session cannot leave but
to sign out. Nobody is locked out: the setup needs nothing but the password
just typed and a phone.

Pure: no database, no HTTP (the model methods are on ``res.users``).
"""

from __future__ import annotations

import datetime as dt

LEVELS = ("optional", "admins", "all")
#: where a half-signed-in session goes when its user must turn 2FA on now
SETUP_URL = "/web/login/totp/setup"
#: a deadline for a user the policy requires 2FA of but whose start was never
#: stamped: long past, so that a gap in the stamps fails closed (setup at sign-in)
NEVER_STAMPED = dt.datetime(1970, 1, 1)


def requires(level: str, is_admin: bool) -> bool:
    """Whether the policy *level* requires 2FA of a user (an administrator or not)."""
    return level == "all" or (level == "admins" and is_admin)


def newly_required(old: str, new: str) -> tuple[bool, bool]:
    """(administrators, other users): whether *new* requires 2FA of them and *old* did not.

    Their grace period starts when the policy changes; the others' goes on.
    """
    return (requires(new, True) and not requires(old, True),
            requires(new, False) and not requires(old, False))


def deadline(start: dt.datetime | None, grace_hours: int) -> dt.datetime:
    """The naive UTC moment from which a user whose grace started at *start* needs 2FA.

    To the second, rounded down: a stamp is stored to the microsecond, which can
    put it a hair after the clock reading it came from (a grace of 0 is due at once).
    """
    moment = (start or NEVER_STAMPED) + dt.timedelta(hours=grace_hours)
    return moment.replace(microsecond=0)


def timestamp(moment: dt.datetime) -> float:
    """*moment*, a naive UTC datetime as stored, as a timestamp to compare with a clock."""
    return moment.replace(tzinfo=dt.UTC).timestamp()
