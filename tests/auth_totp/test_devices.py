"""Trusted browsers: the td_id cookie, the list in Préférences, revocation."""

import re

from tests.support import ADMIN_PASSWORD, USER_PASSWORD, count_rows
from tests.support_totp import code, enable_totp, password_step, submit_code

CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/131.0.0.0 Safari/537.36")


def trusted_client(erp, secret, login="demo", password=USER_PASSWORD, **headers):
    client = erp.client(**{"User-Agent": CHROME_LINUX, "Accept-Language": "fr", **headers})
    password_step(client, login, password)
    response = submit_code(client, code(secret, erp), remember=True)
    assert client.path() == "/web"
    erp.clock.advance(30)
    return client, response


def sign_in_again(client, login="demo", password=USER_PASSWORD):
    client.post("/web/session/logout", from_page="/web")
    client.login(login, password)
    return client.path()


def test_cookie_attributes_and_skip(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client, response = trusted_client(erp2fa, secret)
    header = next(h for h in response.history[0].raw.headers.getlist("Set-Cookie")
                  if h.startswith("td_id="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    assert f"Max-Age={90 * 86400}" in header
    assert sign_in_again(client) == "/web"  # no code asked
    prefs = client.get("/web/preferences")
    assert "Chrome sur Linux" in prefs.text
    with erp2fa.server.environment() as env:
        assert env["auth_totp.event"].search_count([("event", "=", "device_used")]) == 1
    # 90 days later the browser is no longer trusted
    erp2fa.clock.advance(90 * 86400 + 1)
    assert sign_in_again(client).startswith("/web/login/totp")


def test_secure_cookie_behind_https(make_erp):
    """Behind an HTTPS proxy every cookie is Secure (so requests won't send them back
    over the test's plain HTTP: the session cookie is carried by hand here)."""
    import requests

    from tests.support import CSRF_RE

    erp = make_erp("sqlite", addons=("auth_totp",), proxy_mode=True)
    secret = enable_totp(erp, "demo")
    https = {"X-Forwarded-Proto": "https"}

    def send(method, path, sid=None, **kw):
        headers = {**https, **({"Cookie": f"session_id={sid}"} if sid else {})}
        return requests.request(method, erp.url + path, headers=headers,
                                allow_redirects=False, timeout=30, **kw)

    def sid_of(response):
        return response.cookies.get("session_id")

    page = send("GET", "/web/login")
    sid = sid_of(page)
    token = CSRF_RE.search(page.text).group(1)
    step1 = send("POST", "/web/login", sid, data={"login": "demo", "password": USER_PASSWORD,
                                                  "csrf_token": token})
    assert step1.headers["Location"].endswith("/web/login/totp")
    sid = sid_of(step1)
    page = send("GET", "/web/login/totp", sid)
    token = CSRF_RE.search(page.text).group(1)
    step2 = send("POST", "/web/login/totp", sid, data={
        "totp_token": code(secret, erp), "remember": "1", "csrf_token": token})
    assert step2.headers["Location"].endswith("/web")
    cookies = step2.raw.headers.getlist("Set-Cookie") + step1.raw.headers.getlist("Set-Cookie")
    assert {c.split("=")[0] for c in cookies} == {"session_id", "td_id", "device"}
    assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)


def test_cookie_is_bound_to_its_user_and_unforgeable(erp2fa):
    demo_secret = enable_totp(erp2fa, "demo")
    enable_totp(erp2fa, "admin")
    client, _ = trusted_client(erp2fa, demo_secret)
    token = client.cookie("td_id")
    # the same browser, another account: the code is asked
    assert sign_in_again(client, "admin", ADMIN_PASSWORD).startswith("/web/login/totp")
    # transplanted into a fresh browser for admin
    other = erp2fa.client()
    other.session.cookies.set("td_id", token)
    other.login("admin", ADMIN_PASSWORD)
    assert other.path().startswith("/web/login/totp")
    # altered or forged tokens for demo itself
    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 43, "", "../" * 20,
                   token + "x", "é" * 43):
        browser = erp2fa.client()
        browser.session.cookies.set("td_id", forged)
        browser.login("demo", USER_PASSWORD)
        assert browser.path().startswith("/web/login/totp"), forged


def test_revoke_one_and_all(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    first, _ = trusted_client(erp2fa, secret)
    second, _ = trusted_client(erp2fa, secret)
    third, _ = trusted_client(erp2fa, secret)
    prefs = first.get("/web/preferences")
    ids = re.findall(r'/auth_totp/devices/(\d+)/revoke', prefs.text)
    assert len(ids) == 3
    with erp2fa.server.environment() as env:
        first_id = env["auth_totp.device"].sudo().search([], order="id")[0].id
    first.post(f"/auth_totp/devices/{first_id}/revoke", from_page="/web/preferences")
    assert first.path() == "/web/preferences?message=device_revoked"
    assert sign_in_again(first).startswith("/web/login/totp")
    assert sign_in_again(second) == "/web"
    # another user cannot revoke demo's browsers
    admin = erp2fa.client()
    admin.login("admin", ADMIN_PASSWORD)
    with erp2fa.server.environment() as env:
        victim = env["auth_totp.device"].sudo().search([], order="id")[0].id
    assert admin.post(f"/auth_totp/devices/{victim}/revoke",
                      from_page="/web/preferences").status_code == 404
    assert count_rows(erp2fa.server, "auth_totp_device") == 2
    second.post("/auth_totp/devices/revoke-all", from_page="/web/preferences")
    assert count_rows(erp2fa.server, "auth_totp_device") == 0
    assert sign_in_again(third).startswith("/web/login/totp")


def test_password_change_and_disable_revoke_all(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client, _ = trusted_client(erp2fa, secret)
    trusted_client(erp2fa, secret)
    assert count_rows(erp2fa.server, "auth_totp_device") == 2
    client.post("/web/preferences/password", {
        "old_password": USER_PASSWORD, "new_password": "another-password-2",
        "confirm_password": "another-password-2"}, from_page="/web/preferences")
    assert count_rows(erp2fa.server, "auth_totp_device") == 0
    assert sign_in_again(client, password="another-password-2").startswith("/web/login/totp")
    submit_code(client, code(secret, erp2fa), remember=True)
    assert count_rows(erp2fa.server, "auth_totp_device") == 1
    client.post("/auth_totp/disable", from_page="/web/preferences")
    assert count_rows(erp2fa.server, "auth_totp_device") == 0
