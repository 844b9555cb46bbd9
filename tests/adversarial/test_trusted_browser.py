"""Trusted browsers: only the genuine, unexpired, unrevoked token of this user skips the code."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from tests.adversarial.attack import enable, half_signed_in, send_code, signed_in, user_id
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import code, submit_code

NINETY_DAYS = 90 * 86400


def trust_browser(erp, secret, login: str = "demo", password: str = USER_PASSWORD,
                  **headers: str):
    """Sign in with 'remember': the response that set ``td_id``, and the token."""
    client = half_signed_in(erp, login, password, **headers)
    response = send_code(client, code(secret, erp), remember="1")
    assert signed_in(response)
    erp.clock.advance(30)  # the next sign-in needs a new code
    return response, response.cookies["td_id"]


def skips_code(erp, token: str, login: str = "demo", password: str = USER_PASSWORD) -> bool:
    """Whether a browser holding *token* is signed in by the password alone."""
    client = erp.client()
    client.session.cookies.set("td_id", token, domain="127.0.0.1", path="/")
    client.login(login, password)
    if client.path() == "/web":
        return True
    assert client.path() == "/web/login/totp", client.path()
    return False


def test_cookie_flags(make_erp, handed_out):
    erp = make_erp("sqlite", addons=("auth_totp",), proxy_mode=True)
    secret = enable(erp, "demo", handed_out)
    client = half_signed_in(erp)
    response = client.post("/web/login/totp", {"totp_token": code(secret, erp), "remember": "1"},
                           headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
    assert signed_in(response)
    headers = response.raw.headers.getlist("Set-Cookie")
    for name in ("td_id", "session_id"):
        header = next(h for h in headers if h.startswith(f"{name}="))
        flags = {part.strip().split("=")[0].lower() for part in header.split(";")}
        assert {"httponly", "secure"} <= flags, header
        assert "samesite=lax" in header.lower(), header
    td = next(h for h in headers if h.startswith("td_id="))
    assert f"Max-Age={NINETY_DAYS}" in td


def test_genuine_token_skips_the_code(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    _response, token = trust_browser(erp, enable(erp, "demo", handed_out))
    assert skips_code(erp, token)


def test_forged_or_altered_tokens_do_not_skip_the_code(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    _response, token = trust_browser(erp, enable(erp, "demo", handed_out))
    fakes = {
        "forged": secrets.token_urlsafe(32),
        "altered": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "truncated": token[:-1],
        "lengthened": token + "A",
        "case-flipped": token.swapcase(),
        "hash of the token": hashlib.sha256(token.encode()).hexdigest(),  # what a dump shows
        "empty": "",
    }
    for forgery, fake in fakes.items():
        assert fake != token
        assert not skips_code(erp, fake), forgery
    assert skips_code(erp, token)  # the genuine one still works


def test_a_token_moved_to_another_account_does_not_skip_its_code(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    enable(erp, "admin", handed_out)
    _response, token = trust_browser(erp, enable(erp, "demo", handed_out))
    assert not skips_code(erp, token, "admin", ADMIN_PASSWORD)


def test_a_token_expires_after_ninety_days(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    _response, token = trust_browser(erp, enable(erp, "demo", handed_out))
    erp.clock.advance(NINETY_DAYS - 60)
    assert skips_code(erp, token)
    erp.clock.advance(61)
    assert not skips_code(erp, token)


def signed_in_client(erp, secret, login: str = "demo", password: str = USER_PASSWORD):
    client = half_signed_in(erp, login, password)
    submit_code(client, code(secret, erp))
    assert client.path() == "/web"
    erp.clock.advance(30)
    return client


def test_a_password_change_revokes_every_trusted_browser(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    _response, token = trust_browser(erp, secret)
    client = signed_in_client(erp, secret)
    new = "demo-new-password-1"
    handed_out.add("password", new)
    client.post("/web/preferences/password", {"old_password": USER_PASSWORD,
                                                "new_password": new, "confirm_password": new},
                from_page="/web/preferences")
    assert "message=password" in client.last.url
    assert not skips_code(erp, token, "demo", new)


def test_a_password_reset_by_an_administrator_revokes_them(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    _response, token = trust_browser(erp, secret)
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    new = "demo-reset-password-1"
    handed_out.add("password", new)
    admin.post(f"/web/users/{user_id(erp, 'demo')}/password", {"password": new},
               from_page="/web/users")
    assert "message=password" in admin.last.url, admin.last.url
    assert not skips_code(erp, token, "demo", new)


@pytest.mark.parametrize("how", ["user", "administrator"])
def test_turning_2fa_off_revokes_them_for_good(erp2fa_sqlite, handed_out, how):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    _response, token = trust_browser(erp, secret)
    if how == "user":
        client = signed_in_client(erp, secret)
        client.post("/auth_totp/disable", from_page="/web/preferences")
    else:
        admin = erp.client()
        admin.login("admin", ADMIN_PASSWORD)
        admin.post(f"/auth_totp/users/{user_id(erp, 'demo')}/disable", from_page="/web/users")
    assert "message=totp_disabled" in (client if how == "user" else admin).last.url
    secret = enable(erp, "demo", handed_out)  # 2FA on again, with a new secret
    assert not skips_code(erp, token)


def test_a_revoked_browser_no_longer_skips_the_code(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    _response, token = trust_browser(erp, secret)
    client = signed_in_client(erp, secret)
    client.post("/auth_totp/devices/revoke-all", from_page="/web/preferences")
    assert "message=device_revoked" in client.last.url
    assert not skips_code(erp, token)
