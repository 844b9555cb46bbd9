"""Server-side sessions, stored in the database.

The cookie holds a random 256-bit id and nothing else; the database holds
only the SHA-256 of that id, so a dump of the table cannot be replayed as a
cookie. The id changes at every privilege change (:meth:`Session.rotate`).

A session is in one of three states:

* anonymous: ``uid`` and ``pre_uid`` are None;
* half-signed-in: the password was right, ``pre_uid`` is set and the second
  factor is pending at ``mfa_url``; it lasts ``mfa_session_lifetime``;
* signed in: ``uid`` is set.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, MutableMapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from erpcore.db import DriverStatement, first_read, signal_table
from erpcore.db import session_table as S

COOKIE_NAME = "session_id"
#: anonymous sessions (a visit to the sign-in page) are forgotten sooner
ANONYMOUS_LIFETIME = 3600


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Session(MutableMapping[str, Any]):
    """The data of one session: a mapping that knows whether it changed."""

    def __init__(self, sid: str | None, data: dict[str, Any] | None = None):
        #: the id in the cookie; None until the session is first saved
        self.sid = sid
        self._data: dict[str, Any] = data or {}
        #: the id this session had when loaded, deleted when it changes
        self.loaded_sid = sid
        #: whether the data or the id changed since it was loaded or saved
        self.modified = False
        #: saved under a new id whatever happened to the old row (see :meth:`rotate`)
        self.fresh = False

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def uid(self) -> int | None:
        return self._data.get("uid")

    @property
    def pre_uid(self) -> int | None:
        return self._data.get("pre_uid")

    def rotate(self, fresh: bool = False) -> None:
        """Give the session a new id and a new CSRF secret (privilege change).

        *fresh*: this request has just checked the password, so the session
        is saved under its new id even if its old row was deleted meanwhile
        (changing one's own password signs out every session, this one too).
        """
        self.sid = secrets.token_urlsafe(32)
        self["csrf_secret"] = secrets.token_hex(32)
        self.fresh = fresh

    def clear(self, fresh: bool = False) -> None:
        """Forget everything, then rotate: used at sign-out and sign-in."""
        self._data = {}
        self.rotate(fresh)

    def csrf_secret(self) -> str:
        if "csrf_secret" not in self._data:
            self["csrf_secret"] = secrets.token_hex(32)
        return self._data["csrf_secret"]

    def to_json(self) -> str:
        return json.dumps(self._data)


def end_sessions(conn: Connection, uids: list[int], keep: Session | None = None) -> None:
    """Sign *uids* out everywhere, half-signed-in sessions included (but *keep*).

    The one way a user's sessions end: a new password, an archived account,
    a second factor turned on. A request of such a session still running
    does not bring it back (:meth:`SessionStore.save`).
    """
    query = sa.delete(S).where(S.c.uid.in_(uids))
    if keep is not None and keep.loaded_sid:
        query = query.where(S.c.sid_hash != _hash(keep.loaded_sid))
    conn.execute(query)


# sent at nearly every request: compiled once, run on the driver's cursor
def _open_statement(users: sa.Table | None) -> DriverStatement:
    """What every request reads first: the registry and configuration sequences, its
    session, and the whole row of the session's user from *users* when given."""
    source = signal_table.outerjoin(S, S.c.sid_hash == sa.bindparam("sid_hash"))
    columns = [signal_table.c.sequence, signal_table.c.config_sequence, S.c.data,
               S.c.expires_at]
    if users is not None:
        source = source.outerjoin(users, users.c.id == S.c.uid)
        columns += users.columns
    return DriverStatement(sa.select(*columns).select_from(source).where(
        signal_table.c.id == 1))


_OPEN = _open_statement(None)
#: the row of id ``old`` gets the id ``new`` (the same, or a new one at a rotation)
_UPDATE = DriverStatement(sa.update(S).where(S.c.sid_hash == sa.bindparam("old")).values(
    sid_hash=sa.bindparam("new"), data=sa.bindparam("d"), uid=sa.bindparam("u"),
    expires_at=sa.bindparam("e")))
_INSERT = DriverStatement(sa.insert(S).values(
    sid_hash=sa.bindparam("new"), data=sa.bindparam("d"), uid=sa.bindparam("u"),
    expires_at=sa.bindparam("e")))


class SessionStore:
    """Loads and saves sessions in ``http_session``."""

    def __init__(self, lifetime: int, mfa_lifetime: int):
        self.lifetime = lifetime
        self.mfa_lifetime = mfa_lifetime
        #: the first statement joined with the last users' table asked for (one per registry)
        self._open_with_users: tuple[sa.Table, DriverStatement] | None = None

    def open(self, conn: Connection, sid: str | None, now: float,
             users: sa.Table | None = None
             ) -> tuple[tuple[int, int], Session, dict[str, Any] | None]:
        """The registry and configuration sequences, the session of the cookie *sid*,
        and the row of its user (signed in or half-signed-in) in *users*.

        One statement, the first of every request (:func:`erpcore.db.first_read`):
        the registry (:meth:`erpcore.server.Server.registry`) needs the
        sequences, nearly every request has a session, and nearly every
        session's request reads its user. *users* is the users' table of the
        registry the request will most likely run in (the caller keeps the
        row only if it does); without it, or without a user, the row is None.
        It is a dict by column name, as the ORM keeps rows
        (:meth:`erpcore.orm.environment.Environment.cache_rows`).
        """
        valid = bool(sid) and len(sid) <= 128
        if not valid:  # no session to find, so no user either
            users = None
        params = {"sid_hash": _hash(sid) if valid else ""}
        try:
            row = first_read(conn, self._open(users), params)
        except DBAPIError as exc:
            if users is None or exc.connection_invalidated:
                raise
            # the table of a registry since replaced: an addon uninstalled, here or in
            # another process, took one of its columns away. Nothing was begun (the
            # first read runs outside a transaction), so the plain read follows.
            users = None
            row = first_read(conn, _OPEN, params)
        sequence, config_sequence, data, expires_at = row[:4]
        if data is None or expires_at < now:
            return (sequence, config_sequence), Session(None), None
        session = Session(sid, json.loads(data))
        user = None
        owner = session.uid or session.pre_uid
        if users is not None and owner:  # an anonymous session's row is all NULL
            user = dict(zip(users.columns.keys(), row[4:], strict=True))
            if user["id"] != owner:
                user = None
        return (sequence, config_sequence), session, user

    def _open(self, users: sa.Table | None) -> DriverStatement:
        if users is None:
            return _OPEN
        known = self._open_with_users
        if known is None or known[0] is not users:
            known = self._open_with_users = (users, _open_statement(users))
        return known[1]

    def _expiry(self, session: Session, now: float) -> float:
        if session.uid:
            return now + self.lifetime
        if session.pre_uid:
            # the row outlives the half-signed-in state by a while, so that a late user
            # is told the sign-in took too long (the pipeline refuses it after mfa_lifetime)
            return session.get("pre_login_at", now) + self.mfa_lifetime + ANONYMOUS_LIFETIME
        return now + ANONYMOUS_LIFETIME

    def save(self, conn: Connection, session: Session, now: float) -> None:
        """Write the session if it changed; a changed id replaces the old one in its row.

        A session whose row was deleted while this request ran (signed out
        everywhere by a password change, say) is not written back: a request
        in flight must not bring an ended session back to life.
        """
        if not session.modified:
            return
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
        if session.uid:
            # the expiry moves on with this write: the next minute needs no other (touch)
            session._data["touched_at"] = now
        values = {
            "new": _hash(session.sid),
            "d": session.to_json(),
            # a half-signed-in session is its user's too: signing out everywhere ends it
            "u": session.uid or session.pre_uid,
            "e": self._expiry(session, now),
        }
        moved = 0
        if session.loaded_sid:
            # one statement, whether the id stays or changes (the row moves to the new one)
            moved = _UPDATE(conn, {"old": _hash(session.loaded_sid), **values}).rowcount
            if not moved and not session.fresh:
                return  # ended elsewhere meanwhile: leave it ended
        if not moved:
            _INSERT(conn, values)
        session.loaded_sid = session.sid
        session.modified = session.fresh = False

    def touch(self, conn: Connection, session: Session, now: float) -> None:
        """Extend a signed-in session's idle expiry, at most once a minute."""
        if session.uid and now - session.get("touched_at", 0) > 60:
            session["touched_at"] = now

    def vacuum(self, conn: Connection, now: float) -> int:
        return conn.execute(sa.delete(S).where(S.c.expires_at < now)).rowcount
