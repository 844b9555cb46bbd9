"""Failure throttles kept in the database, shared by every worker and machine.

A throttle counts consecutive failures per key (an account, a client IP).
The attempt is counted *before* the secret is checked, in one atomic upsert,
so parallel requests cannot all slip through the last free try::

    wait = throttle.attempt(conn, key, now)   # counts this try, or refuses
    if wait: refuse ("try again in {wait} s")
    elif secret is right: throttle.success(conn, key)
    else: throttle.failure(conn, key, now)    # may start a wait

After ``max_failures`` consecutive failures each further failure imposes a
wait of ``base_wait * growth ** k`` seconds (k = 0, 1, 2, ...) capped at
``max_wait``; during the wait every attempt is refused, right or wrong.
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

    def attempt(self, conn: Connection, key: str, now: float) -> int:
        """Count an attempt on *key*; 0 lets it proceed, else the seconds left to wait."""
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(T)
        statement = insert.values(
            key=key, failures=1, lockouts=0, locked_until=0.0, updated_at=now
        ).on_conflict_do_update(
            index_elements=[T.c.key],
            set_={"failures": T.c.failures + 1, "updated_at": now},
            where=T.c.locked_until <= now,
        ).returning(T.c.failures)
        if conn.execute(statement).first() is not None:
            return 0
        return self.remaining(conn, key, now)

    def remaining(self, conn: Connection, key: str, now: float) -> int:
        """Seconds left to wait on *key* (0 when free), without counting anything."""
        locked_until = conn.execute(
            sa.select(T.c.locked_until).where(T.c.key == key)
        ).scalar() or 0.0
        return max(0, math.ceil(locked_until - now))

    def failure(self, conn: Connection, key: str, now: float) -> int:
        """Record that the counted attempt failed; returns the wait it imposes (0 if none)."""
        failures = conn.execute(sa.select(T.c.failures).where(T.c.key == key)).scalar() or 0
        wait = self._wait_for(failures)
        if wait:
            conn.execute(sa.update(T).where(T.c.key == key).values(
                locked_until=now + wait, lockouts=T.c.lockouts + 1, updated_at=now))
        return math.ceil(wait)

    def success(self, conn: Connection, key: str) -> None:
        conn.execute(sa.delete(T).where(T.c.key == key))

    def failures(self, conn: Connection, key: str) -> int:
        return conn.execute(sa.select(T.c.failures).where(T.c.key == key)).scalar() or 0
