"""Session fixation: an id known before a step is worthless after it."""

from __future__ import annotations

import hashlib

from tests.adversarial.attack import enable, half_signed_in, send_code, signed_in
from tests.support import USER_PASSWORD, count_rows
from tests.support_totp import code, submit_code


def with_cookie(erp, sid: str):
    """The attacker's browser, holding the session id they planted or stole."""
    client = erp.client()
    client.session.cookies.set("session_id", sid, domain="127.0.0.1", path="/")
    return client


def session_rows(erp, sid: str) -> int:
    digest = hashlib.sha256(sid.encode()).hexdigest()
    return count_rows(erp.server, "http_session", f"WHERE sid_hash = '{digest}'")


def test_an_id_planted_before_the_password_is_dropped(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    victim = erp.client()
    victim.get("/web/login")
    planted = victim.cookie("session_id")
    assert planted and session_rows(erp, planted) == 1
    victim.login("demo", USER_PASSWORD)
    half = victim.cookie("session_id")
    assert half != planted and session_rows(erp, planted) == 0
    attacker = with_cookie(erp, planted)
    attacker.get("/web/login/totp")
    assert attacker.path() == "/web/login"  # not the victim's code page
    assert send_code(victim, code(secret, erp)).status_code == 303


def test_a_half_signed_in_id_is_dropped_by_the_second_factor(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    victim = half_signed_in(erp)
    half = victim.cookie("session_id")
    assert signed_in(send_code(victim, code(secret, erp)))
    full = victim.cookie("session_id")
    assert full != half and session_rows(erp, half) == 0
    attacker = with_cookie(erp, half)
    attacker.get("/web")
    assert attacker.path().startswith("/web/login")
    # the victim's new id works
    victim.get("/web")
    assert victim.path() == "/web"


def test_a_trusted_browser_sign_in_also_changes_the_id(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    victim = half_signed_in(erp)
    victim.post("/web/login/totp", {"totp_token": code(secret, erp), "remember": "1"})
    victim.post("/web/session/logout", from_page="/web/session/logout")
    victim.get("/web/login")
    before = victim.cookie("session_id")
    victim.login("demo", USER_PASSWORD)  # the trusted browser skips the code page
    assert victim.path() == "/web"
    half = victim.last.history[0].cookies.get("session_id")
    full = victim.cookie("session_id")
    assert len({before, half, full}) == 3
    assert session_rows(erp, before) == session_rows(erp, half) == 0
    assert session_rows(erp, full) == 1


def test_an_id_chosen_by_the_attacker_is_never_adopted(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    chosen = "A" * 43
    victim = with_cookie(erp, chosen)
    victim.login("demo", USER_PASSWORD)
    submit_code(victim, code(secret, erp))
    assert victim.path() == "/web"
    assert victim.cookie("session_id") != chosen and session_rows(erp, chosen) == 0
    attacker = with_cookie(erp, chosen)
    attacker.get("/web")
    assert attacker.path().startswith("/web/login")


def test_signing_out_of_a_half_signed_in_session_drops_it(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    victim = half_signed_in(erp)
    half = victim.cookie("session_id")
    victim.post("/web/session/logout")
    assert session_rows(erp, half) == 0
    attacker = with_cookie(erp, half)
    attacker.get("/web/login/totp")
    assert attacker.path() == "/web/login"
    assert not signed_in(send_code(attacker, code(secret, erp)))
