"""Every route of the live URL map, attacked from a half-signed-in session and without CSRF.

The routes are read from the running server's URL map, so a route added
later is attacked too without touching this file. Integer converters get a
real id (a user, a trusted browser), so each request reaches a real record.
"""

from __future__ import annotations

import pytest

from tests.adversarial.attack import (
    Route,
    assert_clean,
    assert_form_post_refused,
    enable,
    half_signed_in,
    live_routes,
    reset_last_step,
    send_code,
    signed_in,
    state,
    user_id,
)
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import code, password_step, submit_code

#: the only routes a half-signed-in session may reach (DESIGN section 3); the setup a
#: policy forces leads a session whose user has 2FA on to the code page
MFA_ROUTES = {"/web/login/totp", "/web/login/totp/setup", "/web/session/logout"}

#: form fields that would make each POST do something real if it were let through
PAYLOAD = {
    "name": "auth_totp", "login": "mallory", "password": "mallory-pass-1",
    "old_password": ADMIN_PASSWORD, "new_password": "changed-pass-1",
    "confirm_password": "changed-pass-1", "email": "m@example.com", "lang": "en",
    "tz": "UTC", "redirect": "/web", "admin": "1",
}


def ids_for(erp, demo_device: int) -> dict[str, int]:
    return {"user_id": user_id(erp, "demo"), "device_id": demo_device}


def trusted_device(erp, secret, login: str = "demo", password: str = USER_PASSWORD) -> int:
    """Sign *login* in once with 'remember': returns the id of the trusted browser."""
    client = erp.client()
    password_step(client, login, password)
    submit_code(client, code(secret, erp), remember=True)
    assert client.path() == "/web"
    uid = user_id(erp, login)
    with erp.server.environment() as env:
        return env["auth_totp.device"].search([("user_id", "=", uid)]).ids[-1]


def test_half_signed_in_session_reaches_only_the_code_page_and_logout(erp2fa, handed_out):
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    device = trusted_device(erp, secret)
    erp.clock.advance(30)  # the next code, the last one being used
    client = half_signed_in(erp)
    token = client.csrf()
    routes = live_routes(erp)
    assert {r.rule.rule for r in routes if r.routing.mfa} == MFA_ROUTES
    before = state(erp)
    tried = 0
    for route in routes:
        if route.rule.rule in MFA_ROUTES - {"/web/login/totp/setup"}:
            continue
        path = route.path(ids_for(erp, device), user_id(erp, "demo"))
        for method in route.methods:
            data = {**PAYLOAD, "csrf_token": token} if method == "POST" else None
            response = client.session.request(method, erp.url + path, data=data,
                                              allow_redirects=False, timeout=30)
            tried += 1
            assert_clean(response)
            if response.status_code in (301, 302, 303, 307, 308):
                assert response.headers["Location"].endswith("/web/login/totp"), (method, path)
            else:
                assert response.status_code in (403, 404, 405), (method, path,
                                                                 response.status_code)
    assert tried >= 20
    assert state(erp) == before, "a half-signed-in session changed something"
    # the session is still half-signed-in, and the code still finishes the sign-in
    assert signed_in(send_code(client, code(secret, erp)))


def test_half_signed_in_session_expires_after_ten_minutes(erp2fa, handed_out):
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    in_time, too_late = half_signed_in(erp), half_signed_in(erp)
    erp.clock.advance(599)
    assert signed_in(send_code(in_time, code(secret, erp)))
    reset_last_step(erp, "demo")
    erp.clock.advance(2)
    response = send_code(too_late, code(secret, erp))
    assert_clean(response)
    assert not signed_in(response)
    assert response.status_code in (303, 403)
    page = too_late.get("/web/login/totp")
    assert too_late.path().startswith("/web/login"), too_late.path()
    assert not too_late.path().startswith("/web/login/totp")
    assert page.status_code == 200


def signed_in_admin(erp):
    client = erp.client(**{"Accept-Language": "en"})
    client.login("admin", ADMIN_PASSWORD)
    assert client.path() == "/web"
    return client


def post_routes(erp) -> list[Route]:
    return [r for r in live_routes(erp) if "POST" in r.methods]


def test_every_post_route_refuses_a_missing_or_foreign_csrf_token(erp2fa, handed_out):
    """Signed in as an administrator (who could do everything), no POST passes without
    this session's token: missing, wrong, or another session's valid token."""
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    device = trusted_device(erp, secret)
    admin = signed_in_admin(erp)
    other = signed_in_admin(erp)
    foreign = other.csrf("/web/preferences")
    routes = post_routes(erp)
    assert len(routes) >= 15
    for route in routes:
        path = route.path(ids_for(erp, device), user_id(erp, "demo"))
        for token in (None, "0" * 64, foreign, ""):
            data = dict(PAYLOAD, totp_token=code(secret, erp))
            if token is not None:
                data["csrf_token"] = token
            before = state(erp)
            response = admin.session.post(erp.url + path, data=data, allow_redirects=False,
                                          timeout=30)
            assert_form_post_refused(route, response)
            assert_clean(response)
            assert state(erp) == before, f"POST {path} without a valid token changed state"


@pytest.mark.parametrize("who", ["anonymous", "half-signed-in"])
def test_every_post_route_refuses_a_forged_request_before_sign_in(erp2fa, handed_out, who):
    """Login CSRF, a forged code submission, a forged sign-out, and every other POST:
    from a session that is not (fully) signed in, a missing token is a 403 too."""
    erp = erp2fa
    secret = enable(erp, "demo", handed_out)
    device = trusted_device(erp, secret)
    erp.clock.advance(30)
    if who == "anonymous":
        client = erp.client()
        client.get("/web/login")
    else:
        client = half_signed_in(erp)
    foreign = half_signed_in(erp).csrf()
    for route in post_routes(erp):
        path = route.path(ids_for(erp, device), user_id(erp, "demo"))
        for token in (None, foreign):
            data = dict(PAYLOAD, login="demo", password=USER_PASSWORD,
                        totp_token=code(secret, erp))
            if token is not None:
                data["csrf_token"] = token
            before = state(erp)
            response = client.session.post(erp.url + path, data=data, allow_redirects=False,
                                           timeout=30)
            assert_clean(response)
            assert_form_post_refused(route, response)
            assert state(erp) == before, f"POST {path} without a valid token changed state"
