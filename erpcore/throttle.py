"""Failure throttles kept in the database, shared by every worker and machine.

A throttle counts consecutive failures per key (an account, a client IP).
The attempt is counted *before* the secret is checked, and the attempt that
reaches the limit starts the wait at once, in the same transaction (whose
row lock makes concurrent attempts queue behind it). So parallel requests
cannot slip past the limit: exactly ``max_failures`` tries, then a wait::

    wait = throttle.attempt(conn, key, now)   # counts this try, or refuses
    if wait: refuse ("try again in {wait} s")
    elif secret is right: throttle.success(conn, key)   # lifts any wait
    else: throttle.failure(conn, key, now)    # the wait now running, if any

The attempt numbered ``max_failures + k`` (k = 0, 1, 2, ...) starts a wait of
``base_wait * growth ** k`` seconds, capped at ``max_wait``; during a wait
every attempt is refused, right or wrong, and is not counted.

Counting before the check holds the key's row until the transaction ends,
so attempts on one key run one at a time. That is what an account needs. For
a key many honest people share (a client address: an office behind NAT), use
the lenient pair instead, which locks nothing while the secret is checked::

    wait = throttle.remaining(conn, key, now)   # reads only
    ... check the secret ...
    on failure: throttle.count_failure(conn, key, now)

A burst of parallel tries can then overshoot the limit by the number in
flight; the strict per-account throttle still binds each account.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from erpcore.db import throttle_table as T


def throttle_key(kind: str, value: str) -> str:
    """A bounded key for *value* (logins may be 10,000 characters long)."""
    digest = hashlib.sha256(value.strip().lower().encode("utf-8", "replace")).hexdigest()
    return f"{kind}:{digest}"


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    base_wait: float
    growth: float = 1.0
    max_wait: float = math.inf

    def _wait_for(self, failures: int) -> float:
        if failures < self.max_failures:
            return 0.0
        return min(self.base_wait * self.growth ** (failures - self.max_failures), self.max_wait)

    def _count(self, conn: Connection, key: str, now: float,
               unless_waiting: bool) -> int | None:
        """Add one to *key*'s failures in one upsert; the new count, or None when
        *unless_waiting* and a wait is running (then nothing is counted)."""
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(T)
        statement = insert.values(
            key=key, failures=1, lockouts=0, locked_until=0.0, updated_at=now
        ).on_conflict_do_update(
            index_elements=[T.c.key],
            set_={"failures": T.c.failures + 1, "updated_at": now},
            where=(T.c.locked_until <= now) if unless_waiting else None,
        ).returning(T.c.failures)
        row = conn.execute(statement).first()
        return None if row is None else row.failures

    def _start_wait(self, conn: Connection, key: str, now: float, failures: int) -> int:
        """Start the wait that *failures* calls for, if any (a longer one running stays)."""
        wait = self._wait_for(failures)
        if wait:
            until = now + wait
            conn.execute(sa.update(T).where(T.c.key == key).values(
                locked_until=sa.case((T.c.locked_until > until, T.c.locked_until), else_=until),
                lockouts=T.c.lockouts + 1))
        return math.ceil(wait)

    def attempt(self, conn: Connection, key: str, now: float) -> int:
        """Count an attempt on *key*; 0 lets it proceed, else the seconds left to wait.

        The attempt that reaches the limit starts the wait at once (lifted by
        :meth:`success`), so no parallel attempt can pass the limit.
        """
        failures = self._count(conn, key, now, unless_waiting=True)
        if failures is None:
            return self.remaining(conn, key, now)
        self._start_wait(conn, key, now, failures)
        return 0

    def remaining(self, conn: Connection, key: str, now: float) -> int:
        """Seconds left to wait on *key* (0 when free), without counting anything."""
        locked_until = conn.execute(
            sa.select(T.c.locked_until).where(T.c.key == key)
        ).scalar() or 0.0
        return max(0, math.ceil(locked_until - now))

    def failure(self, conn: Connection, key: str, now: float) -> int:
        """The counted attempt failed: the seconds of the wait now running (0 if none)."""
        return self.remaining(conn, key, now)

    def count_failure(self, conn: Connection, key: str, now: float) -> int:
        """Count a failure after the check (lenient mode); returns the wait it starts, or 0."""
        return self._start_wait(conn, key, now, self._count(conn, key, now, unless_waiting=False))

    def success(self, conn: Connection, key: str) -> None:
        conn.execute(sa.delete(T).where(T.c.key == key))

    def failures(self, conn: Connection, key: str) -> int:
        return conn.execute(sa.select(T.c.failures).where(T.c.key == key)).scalar() or 0
