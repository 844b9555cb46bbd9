"""Two ``erpcore serve`` processes on two ports sharing one PostgreSQL database.

Everything that two machines behind a load balancer must agree on lives in
the database: sessions, the replay counter, throttles, the installed addons.
Server A runs two prefork workers, server B one threaded process, so both
modes are exercised against each other. Cookies belong to a host, not a
port: one ``requests`` session is one browser talking to both servers.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from auth_totp import totp
from erpcore.db import throttle_table
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, Client
from tests.support_totp import CODES_RE, KEY_RE, WIZARD_RE, error_text
from tests.workers.flows import (
    accepted,
    create_2fa_user,
    fresh_code,
    half_signed,
    on_code_page,
    race,
    totp_state,
)
from tests.workers.processes import run_erpcore


@pytest.fixture(scope="module")
def servers(deploy_for_module):
    """A database with auth_totp, and servers A (2 workers) and B (threaded) on it."""
    deployment = deploy_for_module("postgresql", ("auth_totp",))
    a = deployment.start(workers=2, wait=False)
    b = deployment.start(workers=0, wait=False)
    return deployment, a.wait_ready(), b.wait_ready()


@pytest.fixture
def pair(servers):
    """The servers, with no failure counted yet: each test starts with clean throttles."""
    deployment, _a, _b = servers
    with deployment.server.transaction() as conn:
        conn.execute(sa.delete(throttle_table))
    return servers


def test_password_on_one_server_code_on_the_other(pair):
    deployment, a, b = pair
    assert len(a.wait_workers(2)) == 2  # 'serve --workers 2': a master and two workers
    assert b.workers() == []  # 'serve --workers 0': one threaded process
    secret = create_2fa_user(deployment.server, "ana")
    client = half_signed(a.url, "ana")
    token = on_code_page(client, b.url)
    code, step = fresh_code(secret)
    response = client.post("/web/login/totp", {"totp_token": code}, csrf=token)
    assert accepted(response), (response.status_code, response.url, error_text(response))
    assert response.url == b.url + "/web"
    # one session for both servers: signed in on A too, and the code is spent on both
    client.base = a.url
    assert client.get("/web/preferences").url == a.url + "/web/preferences"
    assert totp_state(deployment.server, "ana")["last_step"] == step
    for url in (a.url, b.url):
        again = half_signed(url, "ana")
        response = again.post("/web/login/totp", {"totp_token": code},
                              from_page="/web/login/totp")
        assert response.status_code == 401
        assert "already used" in error_text(response)


def test_one_code_sent_to_both_servers_at_once_is_accepted_once(pair):
    """Many half-signed sessions per user race one code, split across A and B."""
    deployment, a, b = pair
    users = {f"racer{i}": create_2fa_user(deployment.server, f"racer{i}") for i in range(3)}
    per_user = 8
    urls = [a.url, b.url]

    def prepare(args: tuple[str, int]) -> tuple[Client, str, str]:
        login, index = args
        # the password on one server, the code sent to the other or the same one
        client = half_signed(urls[index % 2], login)
        target = urls[(index // 2) % 2]
        return client, target, on_code_page(client, target)

    with ThreadPoolExecutor(8) as pool:
        jobs = {login: list(pool.map(prepare, [(login, i) for i in range(per_user)]))
                for login in users}
    codes = {login: fresh_code(secret) for login, secret in users.items()}
    # every user's race at the same time: 24 submissions in flight together
    with ThreadPoolExecutor(len(users)) as pool:
        results = dict(zip(users, pool.map(lambda login: race(jobs[login], codes[login][0]),
                                           users), strict=True))
    for login, responses in results.items():
        statuses = [r.status_code for r in responses]
        assert sum(accepted(r) for r in responses) == 1, (login, statuses)
        refused = [r for r in responses if not accepted(r)]
        # refusals: the code was already used, or the account's wait began (5 failures)
        assert {r.status_code for r in refused} <= {401, 429}, statuses
        for response in refused:
            assert "already used" in error_text(response) or response.status_code == 429
        assert totp_state(deployment.server, login)["last_step"] == codes[login][1]


def test_throttle_counts_failures_sent_to_both_servers(pair):
    deployment, a, b = pair
    secret = create_2fa_user(deployment.server, "bea")
    client = half_signed(a.url, "bea")
    code, _step = fresh_code(secret)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in range(5):
        client.base = [a.url, b.url][attempt % 2]
        response = client.post("/web/login/totp", {"totp_token": wrong},
                               from_page="/web/login/totp")
        assert response.status_code == 401
    assert "Try again in 30 seconds" in error_text(response)
    # now the right code waits too, on either server and from a new session
    for url in (b.url, a.url):
        client.base = url
        response = client.post("/web/login/totp", {"totp_token": code},
                               from_page="/web/login/totp")
        assert response.status_code == 429, error_text(response)
        assert "Too many attempts" in error_text(response)
    other = half_signed(b.url, "bea")
    response = other.post("/web/login/totp", {"totp_token": code}, from_page="/web/login/totp")
    assert response.status_code == 429


def test_a_policy_set_through_one_server_applies_on_the_other(pair):
    """Paramètres on server A; server B and each of A's workers apply the policy at their
    next request, with no restart (the settings' sequence moved on)."""
    deployment, a, b = pair
    with deployment.server.environment() as env:
        env["res.users"].create({"login": "paul", "name": "Paul", "password": USER_PASSWORD,
                                 "group_ids": [env.ref("base.group_user").id]})
    admin = Client(a.url)
    admin.login("admin", ADMIN_PASSWORD)
    before = Client(b.url)  # B has read the policy already: optional
    before.login("paul", USER_PASSWORD)
    assert before.path() == "/web"
    try:
        saved = admin.post("/auth_totp/settings", {"policy": "all", "grace_hours": "0"},
                           from_page="/web/settings")
        assert saved.url == a.url + "/web/settings?message=saved"
        for url in (b.url, a.url, a.url, a.url, b.url):
            client = Client(url)
            client.login("paul", USER_PASSWORD)
            assert client.path() == "/web/login/totp/setup", (url, client.path())
        # and the setup finishes there: the secret on B's page, the code on B
        key = KEY_RE.search(client.last.text).group(1).replace(" ", "")
        wizard_id = WIZARD_RE.search(client.last.text).group(1)
        done = client.post("/web/login/totp/setup", {
            "wizard_id": wizard_id, "totp_token": fresh_code(totp.from_base32(key))[0]})
        assert len(CODES_RE.findall(done.text)) == 10
        assert client.get("/web").url == b.url + "/web"
    finally:
        with deployment.server.environment() as env:
            env["res.users"]._totp_set_policy("optional", 48, now=time.time(), actor_id=None,
                                              ip="cli")


def totp_served(url: str, session: requests.Session) -> bool:
    """Whether the server at *url* serves auth_totp: its route, its Préférences section."""
    route = session.get(url + "/web/login/totp", allow_redirects=False, timeout=30)
    preferences = session.get(url + "/web/preferences", timeout=30)
    assert preferences.url == url + "/web/preferences"
    section = 'id="totp-section"' in preferences.text
    assert (route.status_code != 404) == section, (route.status_code, section)
    return section


def test_addon_installed_through_one_server_is_served_by_the_other(deploy):
    deployment = deploy("postgresql")
    a = deployment.start(workers=2, wait=False)
    b = deployment.start(workers=0, wait=False)
    a.wait_ready()
    b.wait_ready()
    admin = Client(a.url)
    admin.login("admin", ADMIN_PASSWORD)
    assert not totp_served(b.url, admin.session)
    # installed from server A's Applications page, while B runs
    response = admin.post("/web/apps/install", {"name": "auth_totp"}, from_page="/web/apps")
    assert response.url == a.url + "/web/apps?message=installed"
    # each of A's two workers and B notice it at their next request, without a restart
    assert all(totp_served(url, admin.session) for url in [b.url, a.url, a.url, a.url])
    # removed with the command line while both run: gone from both
    result = run_erpcore("--db", deployment.db_url, "--data-dir", str(deployment.config.data_dir),
                         "module", "uninstall", "auth_totp")
    assert result.returncode == 0, result.stderr
    assert not any(totp_served(url, admin.session) for url in [a.url, a.url, a.url, b.url])
