"""Recovery codes: strong, single use, one user's only, gone when replaced or 2FA is off."""

from __future__ import annotations

import math

from auth_totp.models.auth_totp_recovery_code import ALPHABET
from tests.adversarial.attack import (
    enable,
    half_signed_in,
    send_code,
    signed_in,
    user_id,
)
from tests.support import ADMIN_PASSWORD
from tests.support_totp import code, error_text, recovery_codes_for, regenerate


def codes(erp, login: str, handed_out) -> list[str]:
    found = recovery_codes_for(erp, login)
    for value in found:
        handed_out.add_recovery_code(value)
    return found


def test_recovery_codes_are_strong_and_distinct(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    enable(erp, "demo", handed_out)
    found = codes(erp, "demo", handed_out) + codes(erp, "demo", handed_out)
    assert len(set(found)) == 20
    for value in found:
        symbols = value.replace("-", "")
        assert set(symbols) <= set(ALPHABET)
        assert len(symbols) * math.log2(len(ALPHABET)) >= 64


def test_a_recovery_code_works_once(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    enable(erp, "demo", handed_out)
    first = codes(erp, "demo", handed_out)[0]
    assert signed_in(send_code(half_signed_in(erp), first, mode="recovery"))
    again = send_code(half_signed_in(erp), first, mode="recovery")
    assert again.status_code == 401 and "already used" in error_text(again)
    # typed differently (lower case, spaces): still the same used code
    again = send_code(half_signed_in(erp), first.lower().replace("-", " "), mode="recovery")
    assert again.status_code == 401


def test_a_recovery_code_is_its_users_only(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    enable(erp, "demo", handed_out)
    enable(erp, "admin", handed_out)
    theirs = codes(erp, "admin", handed_out)[0]
    refused = send_code(half_signed_in(erp), theirs, mode="recovery")
    assert refused.status_code == 401
    # not used up by the attempt: its owner still can
    owner = half_signed_in(erp, "admin", ADMIN_PASSWORD)
    assert signed_in(send_code(owner, theirs, mode="recovery"))


def test_regenerating_replaces_every_code(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    old = codes(erp, "demo", handed_out)
    client = half_signed_in(erp)
    assert signed_in(send_code(client, code(secret, erp)))
    client.get("/web")
    page = regenerate(client)
    assert page.status_code == 200
    for value in old[:3]:
        assert send_code(half_signed_in(erp), value, mode="recovery").status_code == 401


def test_turning_2fa_off_deletes_the_codes(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    secret = enable(erp, "demo", handed_out)
    old = codes(erp, "demo", handed_out)
    client = half_signed_in(erp)
    assert signed_in(send_code(client, code(secret, erp)))
    client.post("/auth_totp/disable", from_page="/web/preferences")
    assert "message=totp_disabled" in client.last.url
    uid = user_id(erp, "demo")
    with erp.server.environment() as env:
        assert env["auth_totp.recovery_code"].search_count([("user_id", "=", uid)]) == 0
    erp.clock.advance(30)
    secret = enable(erp, "demo", handed_out)  # on again: the old codes stay dead
    assert send_code(half_signed_in(erp), old[0], mode="recovery").status_code == 401
    assert signed_in(send_code(half_signed_in(erp), code(secret, erp)))
