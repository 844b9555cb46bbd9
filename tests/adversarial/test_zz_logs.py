"""The server's logs, over the whole adversarial run, hold none of the secrets handed out.

Runs last (``conftest.pytest_collection_modifyitems``). It first walks every
flow that handles a secret once more, so that it means something when run
alone, then looks for every TOTP secret, recovery code, trusted-browser
token, session id, API key and password that any test of the run was given.
"""

from __future__ import annotations

import xmlrpc.client

import requests

from tests.adversarial.attack import half_signed_in, send_code, signed_in, user_id
from tests.adversarial.conftest import APIKEY_RE
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import activate_through_pages, code, regenerate


def every_flow(erp, handed_out) -> None:
    """Activation, sign-in with a code, a wrong code, a replay, a recovery code, a trusted
    browser, new recovery codes, a password change, turning 2FA off, an error page."""
    client = erp.client(**{"Accept-Language": "en"})
    client.login("demo", USER_PASSWORD)
    secret, recovery = activate_through_pages(client, erp, USER_PASSWORD)
    # an API key, made in Préférences, used over XML-RPC and JSON-RPC, then refused
    client.get("/web/preferences/apikeys/new")
    key = APIKEY_RE.search(client.post("/web/preferences/apikeys/new", {
        "name": "script", "duration": "7"}).text).group(1)
    uid = user_id(erp, "demo")
    objects = xmlrpc.client.ServerProxy(erp.url + "/xmlrpc/2/object")
    assert objects.execute_kw("erpcore", uid, key, "res.users", "search", [[]]) == [uid]
    assert requests.post(erp.url + "/jsonrpc", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": ["erpcore", uid, key + "0", "res.users", "search", [[]]]}}).json()["error"]
    erp.clock.advance(30)
    browser = half_signed_in(erp)
    assert send_code(browser, "000000" if code(secret, erp) != "000000" else "111111"
                     ).status_code == 401
    assert signed_in(send_code(browser, code(secret, erp), remember="1"))
    assert send_code(half_signed_in(erp), code(secret, erp)).status_code == 401  # replay
    assert signed_in(send_code(half_signed_in(erp), recovery[0], mode="recovery"))
    assert not signed_in(send_code(half_signed_in(erp), recovery[0], mode="recovery"))
    regenerate(client)
    new = "a-new-password-7"
    handed_out.add("password", new)
    client.post("/web/preferences/password", {"old_password": USER_PASSWORD,
                                              "new_password": new, "confirm_password": new},
                from_page="/web/preferences")
    client.login("demo", new)
    erp.clock.advance(30)
    client.post("/web/login/totp", {"totp_token": code(secret, erp)})
    client.post("/auth_totp/disable", from_page="/web/preferences")
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    admin.get("/web/users/99999/nothing")  # an error page
    admin.post("/web/users/create", {"login": "x", "password": "short"}, csrf="forged")


def test_the_logs_hold_no_secret(erp2fa_sqlite, handed_out, server_log):
    every_flow(erp2fa_sqlite, handed_out)
    log = server_log.text()
    assert "2fa success" in log and "2fa recovery_used" in log  # the audit lines are there
    kinds = set(handed_out.by_kind)
    assert {"TOTP secret", "recovery code", "trusted-browser token", "session id",
            "password", "API key"} <= kinds, kinds
    found = handed_out.found_in(log)
    assert found == [], f"{len(found)} secrets in the logs, e.g. {found[:3]}"
    # the secret itself never appears, even as the otpauth URI
    assert "otpauth://" not in log and "secret=" not in log
