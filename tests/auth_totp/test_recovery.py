"""Recovery codes: ten, long enough, hashed, single use even in parallel, regenerated whole."""

import math
import re
from concurrent.futures import ThreadPoolExecutor

from auth_totp.models.auth_totp_recovery_code import ALPHABET, LENGTH
from tests.support import USER_PASSWORD, count_rows
from tests.support_totp import (
    CODES_RE,
    enable_totp,
    error_text,
    password_step,
    recovery_codes_for,
    regenerate,
    submit_code,
)


def test_codes_are_long_readable_and_stored_hashed(erp2fa):
    enable_totp(erp2fa, "demo")
    codes = recovery_codes_for(erp2fa, "demo")
    assert len(codes) == 10 and len(set(codes)) == 10
    assert LENGTH * math.log2(len(ALPHABET)) >= 64
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    with erp2fa.server.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT code_hash FROM auth_totp_recovery_code").scalars()
        stored = list(stored)
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


def test_a_recovery_code_signs_in_once(erp2fa):
    enable_totp(erp2fa, "demo")
    codes = recovery_codes_for(erp2fa, "demo")
    client = erp2fa.client(**{"Accept-Language": "fr"})
    page = password_step(client, "demo", USER_PASSWORD)
    assert "Utiliser un code de récupération" in page.text
    # typed in the code field, in lower case with spaces instead of dashes
    submit_code(client, codes[0].lower().replace("-", " "))
    assert client.path() == "/web"
    prefs = client.get("/web/preferences")
    assert "Codes de récupération restants : 9 sur 10." in prefs.text
    client.post("/web/session/logout", from_page="/web")
    password_step(client, "demo", USER_PASSWORD)
    again = submit_code(client, codes[0])
    assert again.status_code == 401
    assert error_text(again) == "Ce code de récupération n'est pas valide ou a déjà servi."
    # through the link: the recovery form
    form = client.get("/web/login/totp?mode=recovery")
    assert 'name="mode" value="recovery"' in form.text
    client.post("/web/login/totp", {"totp_token": codes[1], "mode": "recovery"})
    assert client.path() == "/web"
    with erp2fa.server.environment() as env:
        events = env["auth_totp.event"].search([("event", "=", "recovery_used")])
        assert len(events) == 2 and all(e.ip == "127.0.0.1" for e in events)


def test_one_recovery_code_in_parallel_works_once(erp2fa):
    enable_totp(erp2fa, "demo")
    code = recovery_codes_for(erp2fa, "demo")[0]
    clients = [erp2fa.client() for _ in range(10)]
    for client in clients:
        password_step(client, "demo", USER_PASSWORD)
    tokens = [client.csrf() for client in clients]

    def send(pair):
        client, token = pair
        return client.session.post(client.base + "/web/login/totp", timeout=60,
                                   data={"totp_token": code, "csrf_token": token},
                                   allow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(send, zip(clients, tokens, strict=True)))
    assert statuses.count(303) == 1, statuses
    assert count_rows(erp2fa.server, "auth_totp_recovery_code",
                      "WHERE used_at IS NOT NULL") == 1


def test_regenerating_asks_the_password_and_replaces_all(erp2fa):
    enable_totp(erp2fa, "demo")
    old = recovery_codes_for(erp2fa, "demo")
    client = erp2fa.client()
    from tests.support_totp import code as current_code
    # sign in fully (code), then let the identity check go stale
    secret = enable_totp(erp2fa, "demo")
    password_step(client, "demo", USER_PASSWORD)
    submit_code(client, current_code(secret, erp2fa))
    erp2fa.clock.advance(601)
    stale = regenerate(client, headers={"Referer": erp2fa.url + "/web/preferences"})
    assert client.path().startswith("/web/identity")
    assert count_rows(erp2fa.server, "auth_totp_recovery_code") == 10
    assert not CODES_RE.findall(stale.text)
    client.post("/web/identity", {"password": USER_PASSWORD, "redirect": "/web/preferences"})
    fresh = regenerate(client)
    new = CODES_RE.findall(fresh.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert count_rows(erp2fa.server, "auth_totp_recovery_code") == 10
