"""Fuzzing the doors: sign-in fields, the code field, the setup form, the cookies.

Whatever is sent: never a server error, never a traceback, and nothing
changes in the database but what a refusal legitimately writes (the
throttle's failure counters, the audit rows of refused codes, an anonymous
session for a visitor without one). Hypothesis draws from arbitrary text
and from values chosen to hurt (NUL bytes, huge strings, other scripts'
digits, real ids and tokens of other users, SQL and template syntax).

Runs on both backends: PostgreSQL refuses some input SQLite takes (a NUL
byte in a string, say), and that difference is where a 500 would hide.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auth_totp import totp
from erpcore.db import throttle_table
from tests.adversarial.attack import (
    assert_clean,
    enable,
    half_signed_in,
    live_routes,
    signed_in,
    state,
)
from tests.support import USER_PASSWORD
from tests.support_totp import WIZARD_RE, code

FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

NASTY = ["", " ", "\x00", "a\x00b", "0" * 5000, "%00", "' OR '1'='1", "\"; DROP TABLE x; --",
         "<script>alert(1)</script>", "${7*7}{{7*7}}<t t-esc='1'/>", "\u0661\u0662\u0663\u0664"
         "\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16", "12345", "1234567",
         "123 456", "123-456", "-1", "99999999999999999999", "1e3", "0x10", "AAAA-BBBB-CCCC-DDDD",
         "aaaa bbbb cccc dddd", "\u202e\u2066", "\ud7ff", "\U0001f600" * 40, "\r\n", "../../etc",
         "//evil.example/", "javascript:alert(1)", "\\\\evil", "admin", "demo"]

text = st.one_of(st.sampled_from(NASTY), st.text(max_size=120))
#: what an HTTP client can put in a header: Latin-1, no line break, no leading space
header_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=120),
).filter(lambda v: all(ord(c) < 256 for c in v) and not re.search(r"^\s|[\r\n]", v))


def reset_throttles(erp) -> None:
    """Between examples: the fuzz is about parsing, so every input reaches the check
    (the throttle itself is measured in test_bruteforce)."""
    with erp.server.transaction() as conn:
        conn.execute(sa.delete(throttle_table))


@pytest.fixture
def fuzzed(make_erp, backend, handed_out):
    erp = make_erp(backend, addons=("auth_totp",), proxy_mode=True)
    return erp, enable(erp, "demo", handed_out)


def test_fuzz_sign_in_fields(fuzzed):
    erp, _secret = fuzzed
    client = erp.client()
    token = client.csrf("/web/login")
    before = state(erp, throttles=False)

    @FUZZ
    @given(login=text, password=text, redirect=text, ip=header_text)
    @example(login="demo\x00", password="x", redirect="", ip="")
    @example(login="demo", password="x\x00", redirect="/web\x00", ip="")
    @example(login="demo", password="x", redirect="", ip="10.0.0.1\x00")
    def attempt(login, password, redirect, ip):
        response = client.post("/web/login", {"login": login, "password": password,
                                              "redirect": redirect}, csrf=token,
                               headers={"X-Forwarded-For": ip}, allow_redirects=False)
        assert_clean(response)
        assert response.status_code in (200, 400, 429), response.status_code
        assert state(erp, throttles=False) == before

    attempt()


def test_fuzz_code_field(fuzzed):
    erp, secret = fuzzed
    client = half_signed_in(erp)
    token = client.csrf()
    valid = {totp.code_at(secret, erp.clock() + k * totp.PERIOD)
             for k in range(-totp.WINDOW, totp.WINDOW + 1)}
    before = state(erp, throttles=False, failure_events=False)

    @FUZZ
    @given(value=text, remember=text, mode=st.one_of(st.just("recovery"), text), ip=header_text)
    @example(value="123456\x00", remember="1", mode="", ip="")
    @example(value="AAAA-BBBB-CCCC-DDD\x00", remember="", mode="recovery", ip="")
    @example(value="123456", remember="", mode="", ip="10.0.0.1\x00")
    def attempt(value, remember, mode, ip):
        reset_throttles(erp)
        response = client.post("/web/login/totp", {"totp_token": value, "remember": remember,
                                                   "mode": mode}, csrf=token,
                               headers={"X-Forwarded-For": ip}, allow_redirects=False)
        assert_clean(response)
        assert totp.normalize(value) not in valid  # (so that a refusal is the right answer)
        assert response.status_code in (400, 401), response.status_code
        assert state(erp, throttles=False, failure_events=False) == before

    attempt()
    assert signed_in(client.post("/web/login/totp", {"totp_token": code(secret, erp)},
                                 csrf=token, allow_redirects=False))


def test_fuzz_setup_form(make_erp, backend):
    erp = make_erp(backend, addons=("auth_totp",))
    client = erp.client()
    client.login("demo", USER_PASSWORD)
    page = client.get("/auth_totp/setup")
    wizard_id = WIZARD_RE.search(page.text).group(1)
    token = client.csrf()
    ids = st.one_of(text, st.sampled_from([wizard_id, "1", "2", "0", f"{wizard_id}.0",
                                           f" {wizard_id}", "\u0661", "9" * 11, "9" * 40]))
    before = state(erp, throttles=False)

    @FUZZ
    @given(wizard=ids, value=text)
    @example(wizard=f"{wizard_id}\x00", value="123456")
    @example(wizard=wizard_id, value="\x00")
    def attempt(wizard, value):
        reset_throttles(erp)
        erp.clock.advance(0.5)  # time passes (60 examples: 30 s, well within the wizard's life)
        response = client.post("/auth_totp/setup", {"wizard_id": wizard, "totp_token": value},
                               csrf=token, allow_redirects=False)
        assert_clean(response)
        assert response.status_code == 400, response.status_code
        assert state(erp, throttles=False) == before

    attempt()


def test_fuzz_cookies(fuzzed, handed_out):
    erp, secret = fuzzed
    admin_secret = enable(erp, "admin", handed_out)
    trusted = half_signed_in(erp, "admin", "admin-password-1")
    admin_token = trusted.post("/web/login/totp", {"totp_token": code(admin_secret, erp),
                                                   "remember": "1"},
                               allow_redirects=False).cookies["td_id"]
    demo = half_signed_in(erp)
    half = demo.cookie("session_id")
    paths = sorted({r.rule.rule for r in live_routes(erp) if "GET" in r.methods
                    and "<" not in r.rule.rule})
    sids = st.one_of(header_text, st.sampled_from([half, half[:-1], half + "A", half.upper()]))
    tds = st.one_of(header_text, st.sampled_from([admin_token, admin_token[:-1] + "A"]))
    before = state(erp, throttles=False, anonymous_sessions=False)

    @FUZZ
    @given(path=st.sampled_from(paths), sid=sids, td=tds, extra=header_text)
    @example(path="/web/login/totp", sid=half, td=admin_token, extra="")
    @example(path="/web/login/totp", sid=half + "\x00", td=admin_token + "\x00", extra="\x00")
    def attempt(path, sid, td, extra):
        cookie = f"session_id={sid}; td_id={td}; {extra}"
        response = erp.client().session.get(erp.url + path, headers={"Cookie": cookie},
                                            allow_redirects=False, timeout=30)
        assert_clean(response)
        assert not signed_in(response) or path == "/"
        # a control character in the header: refused whole by the HTTP server, unread
        refused_unread = response.status_code == 400 and "Invalid header" in response.text
        if sid == half and not refused_unread:
            # demo's half-signed-in session: the admin's browser token is no key
            assert response.status_code in (200, 303)
            location = response.headers.get("Location", "")
            assert response.status_code == 200 or location.endswith("/web/login/totp")
            assert path in ("/web/login/totp", "/web/session/logout") or location
        assert state(erp, throttles=False, anonymous_sessions=False) == before

    attempt()
    # demo's session is still half-signed-in, and only the code finishes it
    demo.get("/web/login/totp")
    assert demo.path() == "/web/login/totp"


def test_nul_in_a_query_string_is_a_clean_400(make_erp, backend):
    """PostgreSQL cannot store or compare a NUL: every query string is checked first."""
    from tests.support import ADMIN_PASSWORD

    erp = make_erp(backend, addons=("auth_totp",))
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    for path in ("/auth_totp/audit?login=%00", "/web/login?redirect=/web%00",
                 "/web/preferences?message=%00"):
        page = admin.get(path)
        assert page.status_code == 400, path
        assert "Traceback" not in page.text
