"""Who may touch whose 2FA: the identity re-check, other users' records, administrators' pages."""

from __future__ import annotations

import re

import pytest

from tests.adversarial.attack import (
    assert_clean,
    assert_form_post_refused,
    enable,
    half_signed_in,
    live_routes,
    send_code,
    state,
    user_id,
)
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import WIZARD_RE, code, submit_code

IDENTITY_LIFETIME = 600

#: routes any signed-in user may use on their own account; every other route of the
#: live map must refuse a plain user (a new administrator page is covered by default)
SELF_SERVICE = {
    "/", "/web", "/web/login", "/web/login/totp", "/web/session/logout", "/web/identity",
    "/web/preferences", "/web/preferences/save", "/web/preferences/password",
    "/web/preferences/email",
    "/auth_totp/setup", "/auth_totp/disable", "/auth_totp/recovery/regenerate",
    "/auth_totp/devices/<int:device_id>/revoke", "/auth_totp/devices/revoke-all",
    "/auth_totp/change", "/web/login/totp/setup",
    "/web/preferences/apikeys/new", "/web/preferences/apikeys/<int:key_id>/revoke",
}


def sign_in(erp, login: str, password: str, secret: bytes | None = None, remember=False):
    client = erp.client(**{"Accept-Language": "en"})
    client.login(login, password)
    if secret is not None:
        submit_code(client, code(secret, erp), remember=remember)
    assert client.path() == "/web", client.path()
    erp.clock.advance(30)  # the next sign-in needs the next code
    return client


def devices_of(erp, login: str) -> list[int]:
    uid = user_id(erp, login)
    with erp.server.environment() as env:
        return env["auth_totp.device"].search([("user_id", "=", uid)]).ids


def is_identity_page(response) -> bool:
    return response.status_code == 303 and "/web/identity" in response.headers["Location"]


@pytest.fixture
def stale(erp2fa_sqlite, handed_out):
    """demo (2FA on, one trusted browser) and admin (2FA on), both signed in for
    longer than the identity re-check lasts: their sessions are valid, their
    password check is not fresh."""
    erp = erp2fa_sqlite
    demo_secret = enable(erp, "demo", handed_out)
    admin_secret = enable(erp, "admin", handed_out)
    sign_in(erp, "demo", USER_PASSWORD, demo_secret, remember=True)
    demo = sign_in(erp, "demo", USER_PASSWORD, demo_secret)
    admin = sign_in(erp, "admin", ADMIN_PASSWORD, admin_secret)
    erp.clock.advance(IDENTITY_LIFETIME + 1)
    return erp, demo, admin


def test_weakening_2fa_asks_for_the_password_again(stale):
    """Turning 2FA off (for oneself, for another user, or for everyone by uninstalling
    the addon or by the policy), new recovery codes, revoking browsers, a new secret or a
    new authenticator, resetting one's own password as administrator: all ask for the
    password again once the check is older than ten minutes, and change nothing
    meanwhile."""
    erp, demo, admin = stale
    device = devices_of(erp, "demo")[0]
    with erp.server.environment() as env:  # an API key of demo's
        users = env["res.users"]
        key, _ = env["res.users.apikeys"]._generate(
            users.browse(user_id(erp, "demo")), "script", days=30, now=erp.clock())
    attempts = [
        (demo, "POST", "/auth_totp/disable", {}),
        (demo, "POST", "/auth_totp/recovery/regenerate", {}),
        (demo, "POST", f"/auth_totp/devices/{device}/revoke", {}),
        (demo, "POST", "/auth_totp/devices/revoke-all", {}),
        (demo, "GET", "/auth_totp/setup", {}),
        # the address that hears of every change: diverting it would silence the warnings
        (demo, "POST", "/web/preferences/email", {"email": "mallory@example.com"}),
        (admin, "POST", f"/auth_totp/users/{user_id(erp, 'demo')}/disable", {}),
        (admin, "POST", f"/auth_totp/users/{user_id(erp, 'demo')}/devices/revoke", {}),
        # an invitation is an audit event naming the administrator
        (admin, "POST", f"/auth_totp/users/{user_id(erp, 'admin')}/invite", {}),
        # the company policy: making 2FA optional again weakens it for everyone
        (admin, "POST", "/auth_totp/settings", {"policy": "optional", "grace_hours": "0"}),
        (demo, "GET", "/auth_totp/change", {}),
        (admin, "POST", "/web/apps/uninstall", {"name": "auth_totp"}),
        # an addon adds code every request runs
        (admin, "POST", "/web/apps/install", {"name": "test_feature"}),
        (admin, "POST", f"/web/users/{user_id(erp, 'admin')}/password",
         {"password": "taken-over-1"}),
        # a new administrator of one's own, or a dormant one restored, would hold a
        # password that passes every later re-check
        (admin, "POST", "/web/users/create",
         {"login": "intruder", "password": "intruder-pass-1", "admin": "1"}),
        (admin, "POST", f"/web/users/{user_id(erp, 'demo')}/archive", {}),
        # an API key is a credential of its own: a borrowed session must not mint one
        (demo, "GET", "/web/preferences/apikeys/new", {}),
        (demo, "POST", "/web/preferences/apikeys/new", {"name": "mine", "duration": "90"}),
        (demo, "POST", f"/web/preferences/apikeys/{key.id}/revoke", {}),
        (admin, "POST", f"/web/users/apikeys/{key.id}/revoke", {}),
    ]
    for client, method, path, data in attempts:
        if method == "POST":
            data = {**data, "csrf_token": client.csrf("/web/preferences")}
        before = state(erp)
        response = client.session.request(method, erp.url + path, data=data or None,
                                          allow_redirects=False, timeout=30)
        assert is_identity_page(response), (path, response.status_code)
        assert state(erp) == before, f"{path} acted without the identity re-check"
    # every route marked as needing the re-check was attempted above
    attempted = {re.sub(r"/\d+/", "/<id>/", path) for _c, _m, path, _d in attempts}
    marked = {re.sub(r"<int:\w+>", "<id>", r.rule.rule) for r in live_routes(erp)
              if r.routing.identity}
    assert marked <= attempted, marked - attempted


def test_guessing_the_password_through_the_change_form_is_throttled(stale):
    """The current-password field of Préférences is a password check like the re-check."""
    erp, demo, _admin = stale
    for n in range(10):
        demo.post("/web/preferences/password", {
            "old_password": f"guess-{n}", "new_password": "new-password-1",
            "confirm_password": "new-password-1"}, from_page="/web/preferences")
    right = demo.post("/web/preferences/password", {
        "old_password": USER_PASSWORD, "new_password": "new-password-1",
        "confirm_password": "new-password-1"}, from_page="/web/preferences")
    assert right.status_code == 400 and "Réessayez dans" in right.text
    demo.post("/web/identity", {"password": USER_PASSWORD, "redirect": "/web/preferences"},
              from_page="/web/identity")
    assert demo.path().startswith("/web/identity"), "the throttles are not shared"


def test_the_re_check_is_per_session_and_throttled(stale):
    erp, demo, _admin = stale
    for _ in range(10):
        demo.post("/web/identity", {"password": "not-the-password",
                                    "redirect": "/web/preferences"}, from_page="/web/identity")
    demo.post("/web/identity", {"password": USER_PASSWORD, "redirect": "/web/preferences"},
              from_page="/web/identity")
    assert demo.path().startswith("/web/identity"), "the right password passed the throttle"
    response = demo.post("/auth_totp/disable", from_page="/web/preferences",
                         allow_redirects=False)
    assert is_identity_page(response)


def test_a_user_cannot_revoke_another_users_browser(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    sign_in(erp, "admin", ADMIN_PASSWORD, enable(erp, "admin", handed_out), remember=True)
    demo = sign_in(erp, "demo", USER_PASSWORD, enable(erp, "demo", handed_out))
    (theirs,) = devices_of(erp, "admin")
    before = state(erp)
    response = demo.post(f"/auth_totp/devices/{theirs}/revoke", from_page="/web/preferences",
                         allow_redirects=False)
    assert response.status_code == 404
    assert state(erp) == before and devices_of(erp, "admin") == [theirs]
    demo.post("/auth_totp/devices/revoke-all", from_page="/web/preferences")
    assert devices_of(erp, "admin") == [theirs]


def test_a_user_cannot_finish_another_users_activation(erp2fa_sqlite, handed_out):
    """Even with the right code for the other user's pending secret."""
    erp = erp2fa_sqlite
    admin = sign_in(erp, "admin", ADMIN_PASSWORD)
    page = admin.get("/auth_totp/setup")
    wizard_id = WIZARD_RE.search(page.text).group(1)
    with erp.server.environment() as env:
        pending = env["auth_totp.wizard"].browse(int(wizard_id)).secret
    demo = sign_in(erp, "demo", USER_PASSWORD)
    from auth_totp import totp

    right = totp.code_at(totp.from_base32(pending), erp.clock())
    before = state(erp)
    response = demo.post("/auth_totp/setup", {"wizard_id": wizard_id, "totp_token": right},
                         from_page="/web/preferences")
    assert response.status_code == 400
    assert state(erp) == before
    demo_id = user_id(erp, "demo")
    with erp.server.environment() as env:
        assert not env["res.users"].browse(demo_id).totp_enabled
    # the owner still can
    done = admin.post("/auth_totp/setup", {"wizard_id": wizard_id, "totp_token": right},
                      from_page="/web/preferences")
    assert done.status_code == 200 and "recovery-codes" in done.text


def test_a_plain_user_gets_no_administrator_route(erp2fa_sqlite, handed_out):
    """Every route of the live map but the self-service ones refuses a plain user."""
    erp = erp2fa_sqlite
    enable(erp, "admin", handed_out)
    demo = sign_in(erp, "demo", USER_PASSWORD)
    token = demo.csrf("/web/preferences")
    ids = {"user_id": user_id(erp, "admin")}
    payload = {"name": "auth_totp", "login": "mallory", "password": "mallory-pass-1",
               "csrf_token": token}
    checked = 0
    for route in live_routes(erp):
        if route.rule.rule in SELF_SERVICE:
            continue
        path = route.path(ids, user_id(erp, "admin"))
        for method in route.methods:
            before = state(erp)
            response = demo.session.request(method, erp.url + path, allow_redirects=False,
                                            data=payload if method == "POST" else None,
                                            timeout=30)
            assert_clean(response)
            if method == "POST":
                assert_form_post_refused(route, response)
            else:
                assert response.status_code == 403, (method, path, response.status_code)
            assert state(erp) == before
            checked += 1
    assert checked >= 9


def test_a_half_signed_in_administrator_is_no_administrator(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "admin", handed_out)
    client = half_signed_in(erp, "admin", ADMIN_PASSWORD)
    for path in ("/web/users", "/web/apps", "/auth_totp/audit"):
        response = client.get(path, allow_redirects=False)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/web/login/totp")
    client.get("/web/login/totp")
    assert send_code(client, code(secret, erp)).status_code == 303
