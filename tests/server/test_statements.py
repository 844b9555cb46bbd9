"""What the server sends to the database, counted: a count is not a time, so it is pinned.

``bench/request_cost.py`` measures what these statements cost; this file
makes sure their number does not creep up unnoticed, on SQLite and on
PostgreSQL. Transaction control (``BEGIN``, which psycopg sends unseen,
and the commits) is not counted, on either database.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from auth_totp import totp
from erpcore.db import bump_registry_sequence
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import code, enable_totp

#: the statements of each request of a full sign-in with 2FA (doc/benchmarks.md)
SIGN_IN = {
    "GET /web/login": 2,  # sequences and session (none yet); the new session
    "POST /web/login": 6,  # + wait lookup, count, user row, counters cleared; session moved
    "GET /web/login/totp": 1,  # sequences, session and its user's row
    "POST /web/login/totp": 8,  # + wait, count, step, audit, cleared, sign-in; session
    "GET /web": 2,  # sequences, session and its user's row; groups
}
#: the issue's ceiling for the whole sign-in
CEILING = 30


class StatementLog:
    """Every statement the server's engine sends, but transaction control."""

    def __init__(self, engine):
        self.engine = engine
        self.sent: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            self.sent.append(statement)

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return sent

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


@pytest.fixture
def statements(erp2fa):
    log = StatementLog(erp2fa.server.engine)
    yield log
    log.close()


def sign_in(erp, statements: StatementLog, login: str, password: str, secret: bytes
            ) -> dict[str, list[str]]:
    """A full sign-in with 2FA by a new browser; the statements of each request."""
    client = erp.client()
    statements.take()
    sent: dict[str, list[str]] = {}

    def record(name: str, response, status: int) -> None:
        sent[name] = statements.take()
        assert response.status_code == status, (name, response.status_code)

    record("GET /web/login", client.get("/web/login"), 200)
    response = client.post("/web/login", {"login": login, "password": password},
                           allow_redirects=False)
    record("POST /web/login", response, 303)
    assert response.headers["Location"].endswith("/web/login/totp")
    record("GET /web/login/totp", client.get("/web/login/totp"), 200)
    response = client.post("/web/login/totp", {"totp_token": code(secret, erp)},
                           allow_redirects=False)
    record("POST /web/login/totp", response, 303)
    assert response.headers["Location"].endswith("/web")
    record("GET /web", client.get("/web"), 200)
    assert client.path() == "/web"
    return sent


def test_a_full_sign_in_with_2fa_sends_the_pinned_statements(erp2fa, statements):
    # first, another user: a process reads settings and external ids once, and sweeps
    sign_in(erp2fa, statements, "admin", ADMIN_PASSWORD, enable_totp(erp2fa, "admin"))
    sent = sign_in(erp2fa, statements, "demo", USER_PASSWORD, enable_totp(erp2fa, "demo"))
    numbers = {name: len(statements_) for name, statements_ in sent.items()}
    assert numbers == SIGN_IN, "\n".join(
        f"{name}: {len(statements_)}\n  " + "\n  ".join(
            " ".join(s.split())[:120] for s in statements_)
        for name, statements_ in sent.items())
    assert sum(numbers.values()) <= CEILING


def test_the_user_row_read_with_the_session_serves_only_the_registry_it_was_read_for(
        erp2fa, statements):
    """The session's user comes in the request's first statement, in the users' table
    of the registry loaded last; when another process has changed the addons since,
    the request runs in a new registry, and its user is read again, from that one."""
    client = erp2fa.client()
    client.login("demo", USER_PASSWORD)
    client.get("/web")
    statements.take()
    assert client.get("/web").status_code == 200
    assert not [s for s in statements.take() if "FROM res_users" in s]  # came with the session
    with erp2fa.server.transaction() as conn:
        bump_registry_sequence(conn)  # as an install by another process does
    assert client.get("/web").status_code == 200
    read = [s for s in statements.take() if "FROM res_users" in s]
    assert len(read) == 1 and "http_session" not in read[0]  # the row, read on its own
    assert client.get("/web").status_code == 200
    assert not [s for s in statements.take() if "FROM res_users" in s]


def test_rows_kept_after_a_write_are_what_the_database_gives_back(erp2fa):
    """A write updates the rows held in the cache instead of reading them again: the
    values held must be exactly those a new read returns."""
    when = dt.datetime(2031, 5, 17, 8, 30, 15, 123456, tzinfo=dt.UTC).timestamp()
    with erp2fa.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        env.cache_row(demo)
        demo.write({"login_date": when, "tz": "UTC", "active": True, "email": False,
                     "totp_last_step": 7, "totp_last_used": False})
        assert demo._write_if([("totp_last_step", "<", 9)], {"totp_last_step": 9})
        held = dict(env.cache_row(demo))
        env.invalidate()
        assert env.cache_row(demo) == held
        assert held["login_date"] == dt.datetime(2031, 5, 17, 8, 30, 15, 123456)
        assert held["totp_last_step"] == 9 and held["email"] is None
    with erp2fa.server.environment() as env:  # and as committed
        assert env.cache_row(env["res.users"].browse(demo.id)) == held


def test_a_refused_conditional_write_forgets_the_row(erp2fa):
    """The row changed under the transaction: what it held is no longer the row."""
    with erp2fa.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        demo.write({"totp_last_step": 5})
        env.conn.exec_driver_sql(
            f"UPDATE res_users SET totp_last_step = 50 WHERE id = {demo.id}")
        assert not demo._write_if([("totp_last_step", "<", 6)], {"totp_last_step": 6})
        assert demo.sudo().totp_last_step == 50


def test_exists_reads_unknown_rows_whole_and_trusts_the_ones_it_holds(erp2fa, statements):
    with erp2fa.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        other = env["res.users"].create({"login": "other", "name": "Other"})
        env.invalidate()
        statements.take()
        users = env["res.users"].browse([demo.id, 2**31 + 5, -1, 999_999, other.id])
        assert users.exists().ids == [demo.id, other.id]
        assert len(statements.take()) == 1  # one read of the rows it did not hold
        assert demo.exists() and demo.name == "Marc Demo" and demo.active
        assert statements.take() == []  # held since: no statement
        other.unlink()
        assert not other.exists()
        assert len(statements.take()) == 2  # the deletion, then a read: the row is gone


def test_rows_deleted_by_a_cascade_are_not_taken_for_existing(erp2fa):
    with erp2fa.server.environment() as env:
        user = env["res.users"].create({"login": "leaving", "name": "Leaving"})
        env["auth_totp.device"].trust(user.id, user_agent="Firefox/128", ip="198.51.100.7",
                                      now=erp2fa.clock(), lifetime=86400)
        device = env["auth_totp.device"].search([("user_id", "=", user.id)])
        assert device.exists() and device.browser == "Firefox"  # its row is held now
        user.unlink()  # the database deletes the device too (ON DELETE CASCADE)
        assert not device.exists()


def test_a_wrong_code_is_still_counted_before_it_is_checked(erp2fa, statements):
    """Fewer statements, the same guarantee: a code's try is counted on the account
    before the check, and the failure on the address after it."""
    secret = enable_totp(erp2fa, "demo")
    client = erp2fa.client()
    client.login("demo", USER_PASSWORD)
    token = client.csrf()
    statements.take()
    wrong = f"{(int(code(secret, erp2fa)) + 1) % 10**totp.DIGITS:06d}"
    response = client.post("/web/login/totp", {"totp_token": wrong}, csrf=token)
    assert response.status_code == 401
    sent = [" ".join(s.split()) for s in statements.take()]
    upserts = [i for i, s in enumerate(sent) if s.startswith("INSERT INTO ir_throttle")]
    audit = [i for i, s in enumerate(sent) if s.startswith("INSERT INTO auth_totp_event")]
    assert len(upserts) == 2 and len(audit) == 1, sent
    assert upserts[0] < audit[0] < upserts[1]  # the failure is recorded after the check
    assert not any(s.startswith("UPDATE res_users") for s in sent)  # no step accepted
    with erp2fa.server.engine.connect() as conn:
        counts = dict(conn.execute(sa.text(
            "SELECT key, failures FROM ir_throttle WHERE key LIKE 'totp|%'")).all())
    assert sorted(counts.values()) == [1, 1], counts
