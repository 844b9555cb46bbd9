"""Availability and its neighbours (issue 9), through the real app over HTTP.

No lock across a password hash; HEAD changes nothing; a second factor turned
on ends the password-only sessions; parallel activations and regenerations
succeed once; the server and the command line hash alike; addons' static
files; what an uninstall leaves in SQLite's log; the administrator's tools
for the sign-in throttle. What needs real ``erpcore serve`` processes and
sockets (stalled clients, file modes, keyrings) is in tests/workers.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from auth_totp import totp
from tests.server.helpers import run_cli
from tests.support import (
    ADMIN_PASSWORD,
    TEST_ROUNDS,
    USER_PASSWORD,
    Client,
    count_rows,
    table_dump,
)
from tests.support_totp import (
    CODES_RE,
    GENERATION_RE,
    KEY_RE,
    WIZARD_RE,
    activate_through_pages,
    code,
    enable_totp,
    password_step,
    recovery_codes_for,
    submit_code,
)


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never met")
        time.sleep(0.01)


def throttle_failures(erp, like: str, unlike: str = "") -> int:
    with erp.server.engine.connect() as conn:
        return conn.execute(sa.text("SELECT coalesce(max(failures), 0) FROM ir_throttle "
                                    "WHERE key LIKE :k AND key NOT LIKE :u"),
                            {"k": like, "u": unlike or "-"}).scalar_one()


def login_counter(erp) -> int:
    """The failures counted on a login's own limit (strict: counted before the check)."""
    return throttle_failures(erp, "signin|L%", unlike="%|A%")


# -- 2. no lock across a password hash ------------------------------------------------


def test_a_password_hash_holds_no_lock(make_erp, backend):
    """While a sign-in hashes a (deliberately slow) password, other visitors are served,
    writes included, and another try on the same login is counted at once."""
    erp = make_erp(backend)
    with erp.env() as env:  # about a second or more per hash on this machine
        env.registry.settings.set(env.conn, "base.password_rounds", 1_500_000)
    with erp.env() as env:
        env["res.users"].search([("login", "=", "demo")]).write({"password": USER_PASSWORD})
    outcome = {}

    def sign_in() -> None:
        outcome["url"] = erp.client().login("demo", USER_PASSWORD).url

    first = threading.Thread(target=sign_in)
    first.start()
    # the try is counted, and committed, before the hash starts
    wait_until(lambda: login_counter(erp) == 1)
    for _ in range(3):  # each anonymous visit writes a new session
        assert erp.client().get("/web/login").status_code == 200
    second = threading.Thread(target=lambda: erp.client().login("demo", "wrong-password"))
    second.start()
    wait_until(lambda: login_counter(erp) == 2)
    hashing = first.is_alive()
    first.join()
    second.join()
    assert hashing, "the visitors waited for the password hash"
    assert outcome["url"].endswith("/web")


# -- 4. a second factor turned on ends the password-only sessions ---------------------


def test_turning_2fa_on_ends_the_other_sessions_and_rotates_this_one(erp2fa):
    mine, other = erp2fa.client(), erp2fa.client()
    mine.login("demo", USER_PASSWORD)
    other.login("demo", USER_PASSWORD)  # a session that knows the password only
    before = mine.cookie("session_id")
    activate_through_pages(mine, erp2fa, USER_PASSWORD)
    assert mine.cookie("session_id") != before
    assert mine.get("/web/preferences").url.endswith("/web/preferences")
    assert "/web/login" in other.get("/web/preferences").url
    # the old session cannot turn 2FA off again: it is signed out
    other.post("/auth_totp/disable", csrf=other.csrf("/web/login"))
    assert other.path().startswith("/web/login")
    with erp2fa.server.environment() as env:
        assert env["res.users"].search([("login", "=", "demo")]).totp_enabled


def test_new_recovery_codes_end_the_other_sessions(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    mine, other = erp2fa.client(), erp2fa.client()
    for client, steps in ((mine, 0), (other, 1)):
        password_step(client, "demo", USER_PASSWORD)
        submit_code(client, code(secret, erp2fa, steps))
        assert client.path() == "/web"
    before = mine.cookie("session_id")
    page = mine.get("/web/preferences")
    shown = mine.post("/auth_totp/recovery/regenerate",
                      {"generation": GENERATION_RE.search(page.text).group(1)},
                      csrf=mine.csrf())
    assert len(CODES_RE.findall(shown.text)) == 10
    assert mine.cookie("session_id") != before
    assert mine.get("/web").url.endswith("/web")
    assert "/web/login" in other.get("/web").url


# -- 6. HEAD is GET without a body, and changes nothing --------------------------------


def head(client: Client, path: str, **kw) -> requests.Response:
    return client.session.request("HEAD", client.base + path, allow_redirects=False,
                                  timeout=30, **kw)


def test_head_is_get_without_a_body_and_changes_nothing(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    signed = erp2fa.client()
    signed.login("admin", ADMIN_PASSWORD)
    half = erp2fa.client()
    password_step(half, "demo", USER_PASSWORD)
    before = table_dump(erp2fa.server)

    gone = head(signed, "/web/session/logout")
    assert gone.status_code == 200 and gone.content == b""
    form = {"totp_token": code(secret, erp2fa), "remember": "1"}
    sneaked = head(half, "/web/login/totp", data=form)
    assert sneaked.status_code == 200 and sneaked.content == b""
    assert "set-cookie" not in {k.lower() for k in sneaked.headers}
    for path in ("/", "/web", "/web/login", "/web/preferences", "/web/apps", "/web/users",
                 "/auth_totp/setup", "/auth_totp/audit", "/web/identity"):
        for client in (signed, half, erp2fa.client()):
            answer = head(client, path)
            assert answer.content == b"" and answer.status_code < 500, path
            assert "set-cookie" not in {k.lower() for k in answer.headers}, path
    assert head(signed, "/web/apps/install", data={"name": "auth_totp"}).status_code == 405
    assert table_dump(erp2fa.server) == before
    assert signed.get("/web").url.endswith("/web")  # still signed in
    assert half.get("/web").url.endswith("/web/login/totp")  # still waiting for its code
    assert half.cookie("td_id") is None


# -- 7. parallel submissions of one form succeed once ------------------------------------


def in_parallel(client: Client, path: str, data: dict, count: int = 4) -> list:
    """*count* browsers tabs of *client* submitting the same form at the same moment."""
    barrier = threading.Barrier(count)
    answers: list = [None] * count

    def submit(n: int) -> None:
        session = requests.Session()
        session.cookies.update(client.session.cookies)
        session.headers.update(client.headers)
        barrier.wait()
        answers[n] = session.post(client.base + path, data=data, timeout=60,
                                  allow_redirects=False)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def stored_code_hashes(erp) -> list[str]:
    with erp.server.engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT code_hash FROM auth_totp_recovery_code"
                                           ).scalars())


def shown_hashes(answer) -> list[str]:
    from auth_totp.models.auth_totp_recovery_code import digest, normalize

    return sorted(digest(normalize(c)) for c in CODES_RE.findall(answer.text))


def assert_done_once(erp, answers: list) -> None:
    """One answer shows the codes, which are the stored ones; the others show none and
    say it was already done (or, arriving once the winner gave the session a new id,
    find their form expired or their session ended)."""
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1, [a.status_code for a in answers]
    assert shown_hashes(winners[0]) == stored_code_hashes(erp)
    losers = [a for a in answers if a is not winners[0]]
    assert all(not CODES_RE.findall(a.text) for a in losers)
    assert all(a.status_code in (403, 409) or "/web/login" in a.headers.get("Location", "")
               for a in losers), [a.status_code for a in losers]
    assert any(a.status_code == 409 and re.search("already done|déjà fait", a.text)
               for a in losers), [a.status_code for a in losers]


def test_parallel_activations_turn_2fa_on_once(erp2fa):
    client = erp2fa.client(**{"Accept-Language": "en"})
    client.login("demo", USER_PASSWORD)
    page = client.get("/auth_totp/setup")
    secret = totp.from_base32(KEY_RE.search(page.text).group(1).replace(" ", ""))
    form = {"wizard_id": WIZARD_RE.search(page.text).group(1),
            "totp_token": code(secret, erp2fa), "csrf_token": client.csrf()}
    answers = in_parallel(client, "/auth_totp/setup", form)
    assert_done_once(erp2fa, answers)
    assert count_rows(erp2fa.server, "auth_totp_event", "WHERE event = 'enabled'") == 1


def test_parallel_regenerations_make_one_set_of_codes(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    recovery_codes_for(erp2fa, "demo")
    client = erp2fa.client(**{"Accept-Language": "en"})
    password_step(client, "demo", USER_PASSWORD)
    submit_code(client, code(secret, erp2fa))
    page = client.get("/web/preferences")
    form = {"generation": GENERATION_RE.search(page.text).group(1),
            "csrf_token": client.csrf()}
    answers = in_parallel(client, "/auth_totp/recovery/regenerate", form)
    assert_done_once(erp2fa, answers)
    assert count_rows(erp2fa.server, "auth_totp_event",
                      "WHERE event = 'recovery_regenerated'") == 1


# -- 9. the server and the command line hash alike ----------------------------------------


def rounds_of(erp, login: str) -> int:
    with erp.env() as env:
        stored = env["res.users"].search([("login", "=", login)]).password
    return int(re.match(r"\$pbkdf2-sha512\$(\d+)\$", stored).group(1))


def test_the_command_line_hashes_with_the_servers_rounds_and_sign_in_remakes_others(
        make_erp, backend):
    erp = make_erp(backend)
    config = erp.server.config
    created = run_cli("user", "create", "cli-user", "--password", "cli-password-1",
                      data_dir=config.data_dir, db_url=config.db_url)
    assert created.returncode == 0, created.stderr
    assert rounds_of(erp, "cli-user") == rounds_of(erp, "demo") == TEST_ROUNDS
    # the rounds change: the next sign-in remakes the hash, up, then down again
    for rounds in (TEST_ROUNDS * 2, TEST_ROUNDS):
        done = run_cli("config", "set", "base.password_rounds", str(rounds),
                       data_dir=config.data_dir, db_url=config.db_url)
        assert done.returncode == 0, done.stderr
        client = erp.client()
        assert client.login("cli-user", "cli-password-1").url.endswith("/web")
        assert rounds_of(erp, "cli-user") == rounds


# -- 10. installing asks for the password; static files; the Server header ----------------


def test_static_files_of_addons_not_installed_are_not_served(erp):
    client = erp.client()
    assert client.get("/auth_totp/static/doc/user-guide.html").status_code == 404
    assert client.get("/auth_totp/static/src/css/auth_totp.css").status_code == 404
    # but their icon is: Applications shows it before installing
    assert client.get("/auth_totp/static/description/icon.svg").status_code == 200
    assert client.get("/web/static/src/css/web.css").status_code == 200
    server_header = client.get("/web/login").headers["Server"]
    assert server_header == "erpcore" and not re.search(r"\d", server_header)


def test_installing_an_addon_asks_for_the_password_again(erp):
    admin = erp.client(**{"Accept-Language": "en"})
    admin.login("admin", ADMIN_PASSWORD)
    erp.clock.advance(601)
    before = table_dump(erp.server, ["ir_module_module"])
    admin.post("/web/apps/install", {"name": "auth_totp"}, from_page="/web/apps",
               headers={"Referer": erp.url + "/web/apps"})
    assert admin.path().startswith("/web/identity")
    assert table_dump(erp.server, ["ir_module_module"]) == before
    admin.post("/web/identity", {"password": ADMIN_PASSWORD, "redirect": "/web/apps"})
    admin.post("/web/apps/install", {"name": "auth_totp"}, from_page="/web/apps")
    assert admin.path() == "/web/apps?message=installed"
    assert admin.get("/auth_totp/static/doc/user-guide.html").status_code == 200


# -- 11. an uninstall leaves nothing of the addon in SQLite's files -------------------------


def sealed_values(erp) -> list[bytes]:
    with erp.server.engine.connect() as conn:
        secret = conn.exec_driver_sql(
            "SELECT totp_secret FROM res_users WHERE totp_secret IS NOT NULL").scalars().all()
        hashes = conn.exec_driver_sql("SELECT code_hash FROM auth_totp_recovery_code"
                                      ).scalars().all()
    return [value.encode() for value in [*secret, *hashes]]


def in_files(erp, values: list[bytes]) -> list[str]:
    found = []
    for path in erp.server.config.data_dir.glob("erpcore.sqlite3*"):
        content = path.read_bytes()
        found += [f"{path.name}: {value[:12]!r}" for value in values if value in content]
    return found


@pytest.mark.parametrize("through", ["page", "command line"])
def test_uninstalling_leaves_no_secret_in_sqlites_files(make_erp, through):
    erp = make_erp("sqlite", addons=("auth_totp",))
    enable_totp(erp, "demo")
    recovery_codes_for(erp, "demo")
    values = sealed_values(erp)
    assert len(values) == 11 and in_files(erp, values)  # in the log, at least
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)  # the server holds its connections meanwhile
    if through == "page":
        admin.post("/web/apps/uninstall", {"name": "auth_totp"}, from_page="/web/apps")
        assert admin.path() == "/web/apps?message=uninstalled"
    else:
        config = erp.server.config
        done = run_cli("module", "uninstall", "auth_totp", data_dir=config.data_dir)
        assert done.returncode == 0, done.stderr
    assert in_files(erp, values) == []
    log = erp.server.config.data_dir / "erpcore.sqlite3-wal"
    assert not log.exists() or log.stat().st_size == 0


# -- the administrator's tools for the sign-in throttle ---------------------------------


def test_throttle_list_and_clear_and_a_password_reset_clears_the_login(make_erp, backend):
    erp = make_erp(backend, proxy_mode=True)
    config = erp.server.config

    def cli(*args: str):
        result = run_cli(*args, data_dir=config.data_dir, db_url=config.db_url)
        assert result.returncode == 0, result.stderr
        return result.stdout

    stranger = erp.client(**{"X-Forwarded-For": "203.0.113.7"})
    for _ in range(5):
        stranger.login("demo", "wrong-password")
    assert stranger.login("demo", USER_PASSWORD).status_code == 429
    listed = cli("throttle", "list")
    assert re.search(r"signin\s+demo\s+203\.0\.113\.7\s+5\s+\d+ s \(until", listed), listed
    assert re.search(r"signin\s+-\s+203\.0\.113\.7\s+5", listed), listed
    assert "wrong-password" not in listed and "wrong-password" not in str(table_dump(
        erp.server, ["ir_throttle"]))
    assert cli("throttle", "clear", "203.0.113.7").startswith("2 counter(s)")
    assert cli("throttle", "clear", "demo").startswith("1 counter(s)")
    assert stranger.login("demo", USER_PASSWORD).url.endswith("/web")

    for _ in range(5):
        erp.client(**{"X-Forwarded-For": "203.0.113.8"}).login("admin", "wrong-password")
    assert throttle_failures(erp, "signin|L%|A%") == 5
    cli("user", "passwd", "admin", "--password", "new-admin-password-1")
    assert throttle_failures(erp, "signin|L%") == 0
    assert cli("throttle", "clear", "nobody-at-all").startswith("0 counter(s)")
