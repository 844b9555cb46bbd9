"""The outbox's state changes, each one short transaction of its own.

::

    outgoing --claim (lease)--> [SMTP, no transaction] --accepted--> sent
        ^                                |
        '---- retry after a wait <-------+-- refused for good, or 24 h gone --> exception

A claim takes a lease: ``claimed_until`` in the future and a random
``claim_token``. On PostgreSQL the candidates are read with
``FOR UPDATE SKIP LOCKED`` (two senders never wait on each other, nor pick
the same row); on SQLite the UPDATE that takes the lease repeats the
conditions under the database's write lock, so a row another sender
claimed since the read is not taken (the claim's rows are read back by
their token). A sender that dies after its claim leaves the lease to expire, after
which the message is claimed again: sent twice at worst, never lost. Only
the holder of the token can close the claim.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: waits before the retries that follow the 1st, 2nd, ... failure, in seconds;
#: the last one repeats until the message is a day old
RETRY_DELAYS = (60, 300, 900, 3600, 2 * 3600, 4 * 3600, 8 * 3600)
#: a message not accepted this long after it was due is given up
GIVE_UP_AFTER = 24 * 3600
#: messages claimed at once by one sender
BATCH = 10


def utc(timestamp: float) -> dt.datetime:
    """A timestamp as stored: a naive UTC datetime."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def timestamp(value: dt.datetime) -> float:
    return value.replace(tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True)
class Claim:
    token: str
    rows: list[Any]


def claim(conn: Connection, table: sa.Table, now: float, lease: float,
          limit: int = BATCH) -> Claim:
    """Take up to *limit* due messages for *lease* seconds (in *conn*'s transaction)."""
    t = table
    due = [t.c.state == "outgoing", t.c.scheduled_date <= utc(now),
           sa.or_(t.c.claimed_until.is_(None), t.c.claimed_until < utc(now))]
    query = sa.select(t.c.id).where(*due).order_by(t.c.scheduled_date, t.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    token = secrets.token_hex(16)
    if not ids:
        return Claim(token, [])
    conn.execute(sa.update(t).where(t.c.id.in_(ids), *due).values(
        claimed_until=utc(now + lease), claim_token=token, attempts=t.c.attempts + 1))
    rows = conn.execute(sa.select(t).where(t.c.claim_token == token).order_by(
        t.c.scheduled_date, t.c.id)).all()
    return Claim(token, rows)


def mark_sent(conn: Connection, table: sa.Table, row: Any, token: str, now: float) -> bool:
    """Record that *row* was accepted; False when the claim was lost meanwhile."""
    t = table
    return conn.execute(sa.update(t).where(t.c.id == row.id, t.c.claim_token == token).values(
        state="sent", sent_date=utc(now), claimed_until=None, claim_token=None,
        failure_reason=None)).rowcount == 1


def mark_failed(conn: Connection, table: sa.Table, row: Any, token: str, now: float,
                reason: str, permanent: bool) -> str:
    """Schedule the next try of *row*, or give it up; returns the new state."""
    t = table
    due = timestamp(row.due_date or row.create_date)
    delay = RETRY_DELAYS[min(max(row.attempts, 1), len(RETRY_DELAYS)) - 1]
    next_try = min(now + delay, due + GIVE_UP_AFTER)
    state = "exception" if permanent or now >= due + GIVE_UP_AFTER else "outgoing"
    conn.execute(sa.update(t).where(t.c.id == row.id, t.c.claim_token == token).values(
        state=state, scheduled_date=utc(next_try), claimed_until=None, claim_token=None,
        failure_reason=reason[:500]))
    return state
