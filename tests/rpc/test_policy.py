"""The company policy over the external API (issues 11 and 13): once a user's deadline
has passed, their password alone is refused there, as the sign-in page would lead them
to the setup; an API key still works. On SQLite and PostgreSQL, real clients."""

from __future__ import annotations

import requests

from tests.rpc.conftest import USER_PASSWORD, make_key, uid_of
from tests.rpc.test_jsonrpc import session_authenticate

NEEDS_KEY = "must use an API key over the API"
HOUR = 3600


def test_the_policy_requires_an_api_key_from_the_deadline_on(api2fa, erp2fa):
    api, erp = api2fa, erp2fa
    demo = uid_of(erp, "demo")
    key = make_key(erp, "demo")
    with erp.server.environment() as env:
        env["res.users"]._totp_set_policy("all", 24, now=erp.clock(), actor_id=None, ip="cli")
    # before the deadline: the password works, over the API as on the sign-in page
    assert api.authenticate("demo", USER_PASSWORD) == demo
    assert api.execute(demo, USER_PASSWORD, "res.users", "search", []) == [demo]
    erp.clock.advance(24 * HOUR)
    # from the deadline on: refused, and only the owner learns that a key is needed
    assert api.authenticate("demo", USER_PASSWORD) is False
    refused = api.fault(demo, USER_PASSWORD, "res.users", "search", [])
    assert refused.faultCode == 3 and NEEDS_KEY in refused.faultString
    wrong = api.fault(demo, "a-wrong-password", "res.users", "search", [])
    assert NEEDS_KEY not in wrong.faultString
    answer = api.json("common", "authenticate", api.db, "demo", USER_PASSWORD, {})
    assert answer["result"] is False
    # nor does the JSON sign-in make a browser session of it: the setup is due
    browser = requests.Session()
    refused = session_authenticate(erp, api.db, "demo", USER_PASSWORD, browser).json()
    assert "second factor is required" in refused["error"]["message"]
    assert "session_id" not in browser.cookies
    # a key works
    assert api.authenticate("demo", key) == demo
    assert api.execute(demo, key, "res.users", "search", []) == [demo]
    # a user the policy does not cover keeps the password
    with erp.server.environment() as env:
        env["res.users"]._totp_set_policy("admins", 24, now=erp.clock(), actor_id=None,
                                          ip="cli")
    assert api.authenticate("demo", USER_PASSWORD) == demo
