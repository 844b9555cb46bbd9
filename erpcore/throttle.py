"""Failure throttles kept in the database, shared by every worker and machine.

A :class:`Limit` is a policy: so many consecutive failures, then a wait that
grows. A counter is one row of ``ir_throttle``, named by a key built with
:func:`throttle_key` (an account, an address, a browser...). A :class:`Guard`
is everything one kind of secret check is judged by, and it is the only door
to the counters::

    guard = Guard(now, strict=[(ACCOUNT, account_key)], lenient=[(ADDRESS, address_key)])
    wait = guard.admit(conn)        # counts a try on the strict counters, or refuses
    if wait: refuse, saying "try again in {wait} s"
    conn.commit()                   # the try is counted before the slow check, whatever follows
    if secret is right: guard.succeeded(conn)      # clears every counter of the guard
    else: wait = guard.failed(conn)                # counts the lenient ones; the wait running

*Strict* counters are counted by :meth:`Guard.admit`, before the secret is
checked, by one upsert (every strict counter of the guard in one statement,
rows taken in key order) that does not count a counter whose wait runs; the
try that reaches the limit starts the wait in the same transaction. So parallel tries
cannot pass the limit: exactly ``max_failures`` tries, then a wait. That is
what an account needs. *Lenient* counters are only read before the check and
counted after a failure: for keys that many honest people share (an office
behind one address), whose tries must not queue behind each other. A burst of
parallel tries can overshoot a lenient limit by the number in flight.

The try numbered ``max_failures + k`` (k = 0, 1, 2, ...) starts a wait of
``base_wait * growth ** k`` seconds, capped at ``max_wait``; during a wait
every try is refused, right or wrong, and is not counted.

Keys name their subjects with a tag each, so that an administrator can clear
every counter of a login, a user or an address (:func:`clear`)::

    throttle_key("signin", login=digest, address="203.0.113.9")
    -> "signin|L3f0c...|A203.0.113.9|"

Logins are never stored as typed (an attacker's 10,000-character login, or a
password typed in the login field): the caller gives a keyed digest.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from erpcore.db import DriverStatement
from erpcore.db import throttle_table as T

_TAGS = {"login": "L", "uid": "U", "address": "A", "device": "D"}


def throttle_key(kind: str, *, login: str | None = None, uid: int | None = None,
                 address: str | None = None, device: str | None = None) -> str:
    """The key of the counter of *kind* for these subjects (each given one is part of it)."""
    parts = [kind]
    for name, value in (("login", login), ("uid", uid), ("address", address),
                        ("device", device)):
        if value is not None:
            parts.append(f"{_TAGS[name]}{value}")
    return "|".join(parts) + "|"


def login_digest(key: bytes, login: str) -> str:
    """The name of *login* in keys: keyed (the ``throttle`` key of the keyring), so the
    table never holds what was typed, and case-insensitive, as logins are typed."""
    normalized = login.strip().lower().encode("utf-8", "replace")
    return hmac.new(key, normalized, hashlib.sha256).hexdigest()[:32]


def parse_key(key: str) -> dict[str, str]:
    """The kind and the subjects of *key*, by name: ``{"kind": "signin", "address": ...}``."""
    kind, *subjects = key.rstrip("|").split("|")
    names = {tag: name for name, tag in _TAGS.items()}
    parsed = {"kind": kind}
    for subject in subjects:
        if subject and subject[0] in names:
            parsed[names[subject[0]]] = subject[1:]
    return parsed


@dataclass(frozen=True)
class Limit:
    """Consecutive failures allowed, then a wait of *base_wait* growing by *growth*."""

    max_failures: int
    base_wait: float
    growth: float = 1.0
    max_wait: float = math.inf

    def wait_after(self, failures: int) -> float:
        """The wait started by the try numbered *failures* (0 below the limit)."""
        if failures < self.max_failures:
            return 0.0
        return min(self.base_wait * self.growth ** (failures - self.max_failures), self.max_wait)


@dataclass
class Guard:
    """The counters one secret check is judged by, at the time *now*."""

    now: float
    #: counted before the check (:meth:`admit`)
    strict: Sequence[tuple[Limit, str]] = ()
    #: counted after a failure (:meth:`failed`)
    lenient: Sequence[tuple[Limit, str]] = ()
    #: the seconds of the longest wait met or started
    _waits: list[float] = field(default_factory=list, repr=False)

    @property
    def keys(self) -> list[str]:
        return [key for _limit, key in (*self.strict, *self.lenient)]

    def admit(self, conn: Connection) -> int:
        """Count this try on the strict counters; 0 lets it go on, else the seconds to wait.

        A wait already running on any counter refuses the try, and then
        nothing is counted.
        """
        wait = remaining(conn, self.keys, self.now)
        if wait or not self.strict:
            return wait
        counted = _count(conn, [key for _limit, key in self.strict], self.now,
                         unless_waiting=True)
        for limit, key in self.strict:
            if key not in counted:  # a parallel try started a wait meanwhile
                return remaining(conn, [key], self.now)
            _start_wait(conn, limit, key, self.now, counted[key])
        return 0

    def succeeded(self, conn: Connection) -> None:
        """The secret was right: every counter of the guard starts again from zero."""
        keys = self.keys
        _keys_statement(_DELETE, len(keys))(conn, _key_params(keys))

    def failed(self, conn: Connection) -> int:
        """The secret was wrong: count the lenient counters; the seconds of the wait now
        running on any counter of the guard (0 when the next try may come at once)."""
        if self.lenient:
            counted = _count(conn, [key for _limit, key in self.lenient], self.now,
                             unless_waiting=False)
            for limit, key in self.lenient:
                _start_wait(conn, limit, key, self.now, counted.get(key))
        return remaining(conn, self.keys, self.now)


# The statements of a guard are built once (per number of keys, per dialect) and run on
# the driver's cursor: building them at each call, or having SQLAlchemy run them, cost
# more than the statements themselves (bench/request_cost.py).

_SELECT_WAIT, _DELETE = "select", "delete"


@functools.cache
def _keys_statement(kind: str, count: int) -> DriverStatement:
    """The longest wait on, or the deletion of, *count* keys bound as k0, k1..."""
    keys = T.c.key.in_([sa.bindparam(f"k{i}") for i in range(count)])
    if kind == _SELECT_WAIT:
        return DriverStatement(sa.select(sa.func.max(T.c.locked_until)).where(keys))
    return DriverStatement(sa.delete(T).where(keys))


def _key_params(keys: Sequence[str]) -> dict[str, str]:
    return {f"k{i}": key for i, key in enumerate(keys)}


def remaining(conn: Connection, keys: Sequence[str], now: float) -> int:
    """The seconds left of the longest wait running on *keys* (0 when none)."""
    if not keys:
        return 0
    ((until,),) = _keys_statement(_SELECT_WAIT, len(keys))(conn, _key_params(keys)).rows
    until = until or 0.0
    return max(0, math.ceil(until - now))


@functools.cache
def _count_statement(dialect: str, count: int, unless_waiting: bool) -> DriverStatement:
    """Add one to the failures of *count* keys, inserting the missing ones (a multi-row
    INSERT, which SQLAlchemy does not cache: sent as driver SQL)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(T)
    insert = insert.values([{"key": sa.bindparam(f"k{i}"), "failures": 1, "locked_until": 0.0,
                             "updated_at": sa.bindparam("now")} for i in range(count)])
    return DriverStatement(insert.on_conflict_do_update(
        index_elements=[T.c.key],
        set_={"failures": T.c.failures + 1, "updated_at": insert.excluded.updated_at},
        where=(T.c.locked_until <= insert.excluded.updated_at) if unless_waiting else None,
    ).returning(T.c.key, T.c.failures))


def _count(conn: Connection, keys: list[str], now: float, unless_waiting: bool
           ) -> dict[str, int]:
    """Add one to each of *keys*' failures in one upsert; the new counts by key. With
    *unless_waiting*, a key whose wait is running is not counted, and is not in the
    answer."""
    keys = sorted(set(keys))  # one order for every transaction: rows are locked in it
    statement = _count_statement(conn.dialect.name, len(keys), unless_waiting)
    return dict(statement(conn, {"now": now, **_key_params(keys)}).rows)


_UNTIL = sa.bindparam("until", type_=sa.Float)
_START_WAIT = sa.update(T).where(T.c.key == sa.bindparam("k")).values(
    locked_until=sa.case((T.c.locked_until > _UNTIL, T.c.locked_until), else_=_UNTIL))


def _start_wait(conn: Connection, limit: Limit, key: str, now: float, failures: int | None
                ) -> None:
    """Start the wait that *failures* calls for, if any (a longer one running stays)."""
    wait = limit.wait_after(failures or 0)
    if wait:
        conn.execute(_START_WAIT, {"k": key, "until": now + wait})


# -- administration ----------------------------------------------------------------


def clear(conn: Connection, *, login: str | None = None, uid: int | None = None,
          address: str | None = None) -> int:
    """Delete every counter naming one of these subjects; returns how many."""
    patterns = [f"%|{_TAGS[name]}{value}|%" for name, value in
                (("login", login), ("uid", uid), ("address", address)) if value is not None]
    if not patterns:
        return 0
    condition = sa.or_(*(T.c.key.like(pattern) for pattern in patterns))
    return conn.execute(sa.delete(T).where(condition)).rowcount


def rows(conn: Connection) -> list[sa.Row]:
    """Every counter, waits running first."""
    return list(conn.execute(sa.select(T).order_by(T.c.locked_until.desc(), T.c.key)))


def forget_quiet(conn: Connection, now: float, memory: float) -> int:
    """Delete counters with no wait running and no try for *memory* seconds."""
    return conn.execute(sa.delete(T).where(
        T.c.locked_until < now, T.c.updated_at < now - memory)).rowcount
