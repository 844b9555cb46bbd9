"""Sign-in security: sessions, cookies, CSRF, throttling, password hashing."""

from __future__ import annotations

import hashlib
import re

import requests
import sqlalchemy as sa

from erpcore.db import session_table
from tests.server.conftest import TEST_ADDONS
from tests.server.helpers import install
from tests.support import (
    ADMIN_PASSWORD,
    EXTERNAL_API,
    USER_PASSWORD,
    Client,
    count_rows,
    table_dump,
)


def session_rows(erp) -> list[tuple[str, int | None]]:
    with erp.server.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(session_table.c.sid_hash, session_table.c.uid)).all()]


def demo_id(erp) -> int:
    with erp.env() as env:
        return env["res.users"].search([("login", "=", "demo")]).id


def test_sessions_are_in_the_database_and_change_id_at_sign_in_and_out(erp, second_worker):
    client = erp.client()
    client.get("/web/login")
    anonymous = client.cookie("session_id")
    client.login("demo", USER_PASSWORD)
    signed_in = client.cookie("session_id")
    assert signed_in not in (None, anonymous)
    rows = session_rows(erp)
    assert (hashlib.sha256(signed_in.encode()).hexdigest(), demo_id(erp)) in rows
    assert not any(signed_in in str(row) for row in rows)  # only its hash is stored
    # nothing lives in the process: another worker on the database knows the session
    other = Client(second_worker(erp))
    other.session.cookies.set("session_id", signed_in)
    assert other.get("/web").url == other.base + "/web"
    # an id set before sign-in (fixation) is not the one signed in
    assert erp.client().get("/web", cookies={"session_id": anonymous}).url.endswith(
        "/web/login?redirect=%2Fweb")

    client.post("/web/session/logout", from_page="/web")
    assert client.cookie("session_id") not in (None, anonymous, signed_in)
    assert demo_id(erp) not in [uid for _sid, uid in session_rows(erp)]
    replay = erp.client()
    replay.session.cookies.set("session_id", signed_in)
    assert replay.get("/web").url.endswith("/web/login?redirect=%2Fweb")


def set_cookie(response: requests.Response) -> str:
    return response.headers["Set-Cookie"]


def test_cookie_flags_and_secure_behind_an_https_proxy(make_erp, backend):
    plain = make_erp(backend)
    https = {"X-Forwarded-Proto": "https"}
    header = set_cookie(requests.get(plain.url + "/web/login", headers=https, timeout=10))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header  # the header is not trusted without --proxy-mode

    proxied = make_erp(backend, proxy_mode=True)
    page = requests.get(proxied.url + "/web/login", headers=https, timeout=10)
    header = set_cookie(page)
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    # signed in through the proxy, the new session cookie is Secure too
    token = Client(proxied.url, last=page).csrf()
    signed = requests.post(proxied.url + "/web/login", timeout=10, allow_redirects=False,
                           headers={**https, "Cookie": f"session_id={page.cookies['session_id']}"},
                           data={"login": "demo", "password": USER_PASSWORD, "csrf_token": token})
    assert signed.status_code == 303 and signed.headers["Location"].endswith("/web")
    assert "Secure" in set_cookie(signed) and "HttpOnly" in set_cookie(signed)
    plain_http = requests.get(proxied.url + "/web/login", timeout=10)
    assert "Secure" not in set_cookie(plain_http)


def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(make_erp,
                                                                             backend):
    erp = make_erp(backend, addons_path=[TEST_ADDONS])
    install(erp, "test_feature", "test_mfa")
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    stranger = erp.client()
    # valid tokens, each used by the other session
    foreign = {id(admin): stranger.csrf("/web/login"), id(stranger): admin.csrf("/web")}
    with erp.server.engine.connect() as conn:
        url_map = erp.server.registry(conn).url_map
    urls = sorted({re.sub(r"<int:\w+>", str(demo_id(erp)), rule.rule)
                   for rule in url_map.iter_rules()
                   if rule.methods is None or "POST" in rule.methods})
    assert {"/", "/web", "/web/login", "/web/session/logout", "/web/apps/install",
            "/web/users/create", "/web/preferences/password", "/test_mfa/sensitive"} <= set(urls)
    form = {"login": "mallory", "name": "Mallory", "password": "mallory-password",
            "new_password": "mallory-password", "confirm_password": "mallory-password",
            "old_password": ADMIN_PASSWORD, "lang": "en", "tz": "UTC"}
    before = table_dump(erp.server)
    for url in urls:
        for client in (admin, stranger):
            for token in (False, "", "0" * 64, foreign[id(client)]):
                page = client.post(url, {**form, "name": "test_feature"}, csrf=token)
                if url in EXTERNAL_API:  # no token by design; a form is refused all the same
                    assert (page.status_code, "<fault>" in page.text) in ((200, True),
                                                                          (415, False)), url
                else:
                    assert page.status_code == 403, (url, token)
                assert "Traceback" not in page.text
    assert table_dump(erp.server) == before
    assert admin.get("/web").url == admin.base + "/web"  # still signed in


def test_failed_sign_ins_from_one_address_wait_30_seconds_after_5(erp, second_worker):
    client = erp.client(**{"Accept-Language": "en"})
    for _ in range(5):
        assert "Wrong login or password." in client.login("demo", "wrong-password").text
    refused = client.login("demo", USER_PASSWORD)  # right, but too late
    assert refused.status_code == 429
    assert "Too many failed sign-ins. Try again in 30 seconds." in refused.text
    assert client.path() == "/web/login"
    # the count is in the database: another worker refuses too, in French if asked
    other = Client(second_worker(erp), headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Réessayez dans 30 secondes" in other.login("demo", USER_PASSWORD).text
    erp.clock.advance(31)
    assert client.login("demo", USER_PASSWORD).url == client.base + "/web"


def test_failed_sign_ins_are_counted_per_address_and_per_login_across_addresses(make_erp,
                                                                                backend):
    erp = make_erp(backend, proxy_mode=True)

    def from_ip(ip: str) -> Client:
        return erp.client(**{"X-Forwarded-For": ip, "Accept-Language": "en"})

    attacker = from_ip("203.0.113.7")
    for n in range(50):  # fifty different logins, one address
        attacker.login(f"ghost{n}", "wrong-password")
    assert attacker.login("demo", USER_PASSWORD).status_code == 429
    assert from_ip("203.0.113.8").login("demo", USER_PASSWORD).url.endswith("/web")

    for n in range(10):  # one login, ten addresses
        from_ip(f"198.51.100.{n}").login("admin", "wrong-password")
    refused = from_ip("198.51.100.99").login("admin", ADMIN_PASSWORD)
    assert refused.status_code == 429 and "60 seconds" in refused.text


def test_passwords_are_pbkdf2_sha512_upgraded_to_the_configured_rounds(make_erp, backend):
    erp = make_erp(backend)
    with erp.env() as env:  # the template hashed with 1000
        env.registry.settings.set(env.conn, "base.password_rounds", 1500)

    def stored(login: str) -> str:
        with erp.env() as env:
            return env["res.users"].search([("login", "=", login)]).password

    assert stored("demo").startswith("$pbkdf2-sha512$1000$")
    client = erp.client()
    assert client.login("demo", USER_PASSWORD).url.endswith("/web")
    assert stored("demo").startswith("$pbkdf2-sha512$1500$")
    client.post("/web/session/logout", from_page="/web")
    assert client.login("demo", USER_PASSWORD).url.endswith("/web")
    assert stored("admin").startswith("$pbkdf2-sha512$1000$")  # not signed in yet
    assert USER_PASSWORD not in str(table_dump(erp.server))


def test_expired_sessions_and_quiet_throttles_are_swept(make_erp):
    """Anonymous visits create sessions; they do not pile up in the database forever."""
    erp = make_erp("sqlite")
    for _ in range(5):
        erp.client().get("/web/login")
    erp.client().login("nobody", "wrong-password")
    assert count_rows(erp.server, "http_session") >= 5
    assert count_rows(erp.server, "ir_throttle") == 3  # the login, the address, both
    erp.clock.advance(2 * 86400)
    erp.client().get("/web/login")  # the next request sweeps
    assert count_rows(erp.server, "http_session") == 1
    assert count_rows(erp.server, "ir_throttle") == 0
