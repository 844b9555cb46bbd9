"""Faults while the server runs: the database goes away, a worker dies mid-request.

The outage test stops and starts a PostgreSQL cluster of its own, so the
server the other tests use is never disturbed. The kill test SIGKILLs the
workers at random moments while activations are in flight, many times, and
checks after each kill that every user's 2FA is wholly on or wholly off:
activation is one transaction, so a dead worker's half is rolled back.
"""

from __future__ import annotations

import random
import re
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from auth_totp import totp
from auth_totp.models.auth_totp_recovery_code import digest
from auth_totp.models.auth_totp_recovery_code import normalize as normalize_recovery
from erpcore.config import Config
from erpcore.modules.loading import create_database
from erpcore.server import Server
from tests.support import ADMIN_PASSWORD, TEST_ROUNDS, USER_PASSWORD, Client, pg_base_url
from tests.support_totp import CODES_RE, KEY_RE, WIZARD_RE
from tests.workers.processes import ServerProcess

# -- PostgreSQL stopped and started again -------------------------------------------


@pytest.fixture
def outage_server(own_postgres, tmp_path):
    """A server with two workers on the tests' own PostgreSQL cluster."""
    admin = sa.create_engine(own_postgres.url.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS outage")
        conn.exec_driver_sql("CREATE DATABASE outage")
    config = Config(data_dir=tmp_path / "data", db_url=own_postgres.database_url("outage"))
    setup = Server(config)
    setup.prepare_data_dir()
    create_database(setup, ADMIN_PASSWORD, password_rounds=TEST_ROUNDS)
    setup.engine.dispose()
    process = ServerProcess(config.data_dir, config.db_url, workers=2)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def test_database_outage_gives_a_clean_503_then_the_server_recovers(outage_server,
                                                                     own_postgres):
    server = outage_server
    client = Client(server.url)
    client.login("admin", ADMIN_PASSWORD)
    assert client.path() == "/web"
    own_postgres.stop()
    try:
        # several of each, so that both workers meet the outage
        for _ in range(3):
            for response in (client.get("/web"), client.get("/web/login"),
                             client.post("/web/login", {"login": "admin"}, csrf=False)):
                assert response.status_code == 503, response.text[:300]
                assert response.headers["Retry-After"] == "5"
                assert "<h1>503" in response.text
                assert "Traceback" not in response.text
                assert "psycopg" not in response.text
    finally:
        own_postgres.start()
    # no restart: the workers reconnect by themselves, and the session survived
    for _ in range(100):
        if client.get("/web").status_code == 200:
            break
        time.sleep(0.2)
    for _ in range(4):
        response = client.get("/web")
        assert response.status_code == 200 and client.path() == "/web"
        assert "Administrator" in response.text
    assert server.process.poll() is None
    log = server.output()
    assert "database unavailable" in log
    assert "Traceback" not in log


def test_connections_the_database_dropped_are_replaced_without_an_error(make_erp):
    """PostgreSQL ended every connection of the pool (a restart, a failover, an idle
    timeout): the next requests are served at once, on new connections, with no 503.

    The pool does not ping a connection before each request (a round trip
    every request would pay); a request whose first statement meets a dead
    connection runs it again on a new one (erpcore.db.first_read).
    """
    erp = make_erp("postgresql")
    client = erp.client()
    client.login("admin", ADMIN_PASSWORD)
    assert client.get("/web").status_code == 200
    database = erp.server.engine.url.database
    admin = sa.create_engine(pg_base_url().replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        ended = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %(name)s AND pid <> pg_backend_pid()", {"name": database}
        ).scalar_one()
    admin.dispose()
    assert ended >= 1  # the server's pooled connection was there, and is gone
    for path in ("/web", "/web/preferences", "/web"):
        response = client.get(path)
        assert response.status_code == 200, response.text[:300]
        assert client.path() == path and "Administrator" in response.text


# -- workers killed during activation ------------------------------------------------

USERS = 6
MAX_ROUNDS = 6
TIME_BUDGET = 25  # seconds: the loop stops early rather than slow the suite down


def start_setup(client: Client, login: str) -> dict:
    """Open the setup page: the key shown and the wizard's id."""
    page = client.get("/auth_totp/setup")
    if client.path().startswith("/web/login"):
        # turning 2FA on gave the session a new id, and the worker was killed before its
        # answer carried it to this browser: the old id is gone, sign in again
        client.login(login, USER_PASSWORD)
        page = client.get("/auth_totp/setup")
    assert client.path() == "/auth_totp/setup", client.path()
    key = KEY_RE.search(page.text).group(1).replace(" ", "")
    return {"secret": totp.from_base32(key), "wizard_id": WIZARD_RE.search(page.text).group(1),
            "csrf": client.csrf()}


def activate(client: Client, setup: dict, outcome: dict) -> None:
    """Post the first code; *outcome* gets the recovery codes shown, or the error."""
    code = totp.code_at(setup["secret"], time.time())
    try:
        response = client.post("/auth_totp/setup", {
            "wizard_id": setup["wizard_id"], "totp_token": code}, csrf=setup["csrf"])
    except requests.RequestException as exc:  # the worker died with the request
        outcome["error"] = exc.__class__.__name__
        return
    outcome["status"] = response.status_code
    outcome["codes"] = CODES_RE.findall(response.text)


def state_of(server: Server, login: str) -> dict:
    with server.environment() as env:
        user = env["res.users"].search([("login", "=", login)])
        codes = env["auth_totp.recovery_code"].search([("user_id", "=", user.id)])
        return {
            "secret": bool(user.totp_secret),
            "enabled_at": bool(user.totp_enabled_at),
            "codes": sorted(code.code_hash for code in codes),
            "enabled_events": env["auth_totp.event"].search_count(
                [("user_id", "=", user.id), ("event", "=", "enabled")]),
        }


def assert_all_or_nothing(state: dict, outcome: dict) -> bool:
    """The invariant after a kill; returns whether 2FA ended on."""
    on = state["secret"]
    assert state["enabled_at"] == on, state
    assert len(state["codes"]) == (10 if on else 0), state
    if outcome.get("status") == 200:  # the user saw codes: they must be the stored ones
        assert on
        shown = sorted(digest(normalize_recovery(code)) for code in outcome["codes"])
        assert shown == state["codes"]
    return on


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_worker_killed_during_activation_leaves_2fa_wholly_on_or_off(deploy, backend):
    deployment = deploy(backend, ("auth_totp",))
    server = deployment.start(workers=2)
    logins = [f"killme{i}" for i in range(USERS)]
    with deployment.server.environment() as env:
        for login in logins:
            env["res.users"].create({"login": login, "name": login, "password": USER_PASSWORD,
                                     "group_ids": [env.ref("base.group_user").id]})
    clients = {login: Client(server.url) for login in logins}
    for login, client in clients.items():
        client.login(login, USER_PASSWORD)  # the password just typed: no re-check asked
    rng = random.Random()
    enabled = dict.fromkeys(logins, 0)
    cut = kills = 0
    span = None  # how long one round of activations takes, measured unharmed first
    started = time.monotonic()
    for round_no in range(MAX_ROUNDS + 1):
        if round_no and time.monotonic() - started > TIME_BUDGET:
            break
        setups = {login: start_setup(client, login) for login, client in clients.items()}
        outcomes = {login: {} for login in logins}
        threads = [threading.Thread(target=activate, args=(clients[login], setups[login],
                                                           outcomes[login]))
                   for login in logins]
        victims = server.wait_workers(2)
        begin = time.monotonic()
        for thread in threads:
            thread.start()
        if span is not None:  # a kill at a random moment of the round
            time.sleep(rng.uniform(0, span))
            for pid in victims:
                server.kill_worker(pid)
            kills += 1
        for thread in threads:
            thread.join(timeout=60)
        if span is None:
            span = time.monotonic() - begin
        cut += sum("error" in outcome for outcome in outcomes.values())
        for login in logins:
            state = state_of(deployment.server, login)
            if assert_all_or_nothing(state, outcomes[login]):
                enabled[login] += 1
                with deployment.server.environment() as env:
                    env["res.users"].search([("login", "=", login)])._totp_disable()
            # the audit event is in the same transaction as the activation
            assert state["enabled_events"] == enabled[login]
        if span is not None and round_no:
            server.wait_workers(2, exclude=victims)
            server.wait_ready()
    print(f"{backend}: {kills} rounds with a kill, {cut} activations cut by it, "
          f"{sum(enabled.values())} completed")
    # the kills did land while activations ran (a request cut short has no response)
    assert cut > 0
    assert re.search(r"Worker \(pid:\d+\) was sent SIGKILL", server.output())
