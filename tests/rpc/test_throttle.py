"""Guessing passwords over RPC is throttled like the sign-in page, with the same counters.

From one address, five wrong passwords for one login start a wait (the
page's per-login-and-address limit), whichever door they came through: the
sign-in page, XML-RPC or JSON-RPC. The right password of a user who must use
an API key counts as a failure too. A valid API key is accepted during a
wait: it is 160 random bits, which no throttle protects better, and so an
integration keeps working while someone guesses the password.
"""

from __future__ import annotations

import re

from tests.rpc.conftest import USER_PASSWORD, make_key, uid_of
from tests.support_totp import enable_totp

WAIT_RE = re.compile(r"try again in (\d+) seconds", re.I)


def page_sign_in(erp, password: str) -> str:
    """Sign in as demo from a fresh browser (no device cookie); the page's message, if any."""
    page = erp.client(**{"Accept-Language": "en"})
    response = page.login("demo", password)
    found = re.search(r'id="form-error">([^<]+)<', response.text)
    return found.group(1) if found else page.path()


def test_wrong_passwords_over_rpc_and_on_the_page_share_one_throttle(api, erp):
    demo = uid_of(erp, "demo")
    for attempt in range(5):
        fault = api.fault(demo, f"wrong-{attempt}", "res.users", "search", [])
        assert fault.faultCode == 3 and not WAIT_RE.search(fault.faultString)
    # the fifth failure started a wait: the right password waits too, on every door
    refused = api.fault(demo, USER_PASSWORD, "res.users", "search", [])
    assert int(WAIT_RE.search(refused.faultString).group(1)) == 30
    assert "Try again in 30 seconds" in page_sign_in(erp, USER_PASSWORD)
    answer = api.json("common", "authenticate", api.db, "demo", USER_PASSWORD, {})
    assert WAIT_RE.search(answer["error"]["message"])
    erp.clock.advance(31)
    assert api.execute(demo, USER_PASSWORD, "res.users", "search", []) == [demo]
    # and the other way round: the page's failures make the API wait
    for attempt in range(5):
        assert page_sign_in(erp, f"wrong-{attempt}") == "Wrong login or password."
    assert WAIT_RE.search(api.fault(demo, USER_PASSWORD, "res.users", "search",
                                    []).faultString)
    assert api.json("common", "authenticate", api.db, "demo", USER_PASSWORD, {})["error"]
    erp.clock.advance(31)
    assert api.authenticate("demo", USER_PASSWORD) == demo


def test_an_unknown_user_id_is_counted_too(api, erp):
    for attempt in range(5):
        assert api.fault(987654, f"guess-{attempt}", "res.users", "search", []).faultCode == 3
    assert WAIT_RE.search(api.fault(987654, "guess", "res.users", "search", []).faultString)


def test_with_2fa_the_right_password_counts_as_a_failure_and_a_key_still_works(api2fa,
                                                                                erp2fa):
    api, erp = api2fa, erp2fa
    demo = uid_of(erp, "demo")
    enable_totp(erp, "demo")
    key = make_key(erp, "demo")
    for _ in range(5):
        assert "must use an API key" in api.fault(demo, USER_PASSWORD, "res.users", "search",
                                                  []).faultString
    assert WAIT_RE.search(api.fault(demo, USER_PASSWORD, "res.users", "search",
                                    []).faultString)
    assert "Try again in" in page_sign_in(erp, USER_PASSWORD)
    # during the wait, the key works, and does not end the wait for passwords
    assert api.execute(demo, key, "res.users", "search", []) == [demo]
    assert api.authenticate("demo", key) == demo
    assert WAIT_RE.search(api.fault(demo, "a-guess", "res.users", "search", []).faultString)
