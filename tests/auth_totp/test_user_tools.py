"""Préférences under issue 11: changing the authenticator without a gap, new recovery
codes, and recovery codes running low. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

from lxml import html

from auth_totp import totp
from auth_totp.models.res_users import Verdict
from tests.auth_totp.test_activation import decode_qr
from tests.support import USER_PASSWORD, Client, count_rows
from tests.support_totp import (
    CODES_RE,
    code,
    enable_totp,
    error_text,
    password_step,
    regenerate,
    submit_code,
)

FR = {"Accept-Language": "fr"}


def signed_in(erp, secret: bytes) -> Client:
    """demo, signed in with a code; the clock moves to the next step for the next one."""
    client = erp.client(**FR)
    password_step(client, "demo", USER_PASSWORD)
    submit_code(client, code(secret, erp))
    assert client.path() == "/web", client.path()
    erp.clock.advance(30)
    return client


def text_of(response) -> str:
    return html.fromstring(response.content).text_content()


def stored_secret(erp) -> str:
    with erp.server.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT totp_secret FROM res_users WHERE login = 'demo'").scalar_one()


def change_page(client: Client, erp):
    """Préférences, Change the authenticator app (the password asked again if stale)."""
    prefs = html.fromstring(client.get("/web/preferences").content)
    link = prefs.get_element_by_id("totp-change")
    assert link.text == "Changer d'application d'authentification"
    page = client.get(link.get("href"))
    if client.path().startswith("/web/identity"):
        page = client.post("/web/identity", {"password": USER_PASSWORD,
                                             "redirect": "/auth_totp/change"})
    assert client.path() == "/auth_totp/change"
    return page


def new_setup(page) -> tuple[str, bytes]:
    doc = html.fromstring(page.content)
    secret = totp.from_base32(doc.get_element_by_id("totp-key").text.replace(" ", ""))
    assert decode_qr(page.text).count(totp.to_base32(secret)) == 1
    return doc.xpath("//input[@name='wizard_id']/@value")[0], secret


def test_the_authenticator_changes_when_the_new_app_gives_a_code(erp2fa):
    erp = erp2fa
    old = enable_totp(erp, "demo")
    client = signed_in(erp, old)
    erp.clock.advance(601)  # the password is asked again first
    page = change_page(client, erp)
    doc = html.fromstring(page.content)
    assert doc.findtext(".//h1") == "Changer d'application d'authentification"
    assert [b.text_content().strip() for b in doc.xpath("//form[@action='/auth_totp/change']"
                                                        "//button")] == [
        "Utiliser la nouvelle application"]
    wizard_id, new = new_setup(page)
    assert new != old
    sealed = stored_secret(erp)
    # wrong codes, a code of the old app among them: refused, nothing changes
    for bad in ("", "abcdef", "١٢٣٤٥٦", "9" * 10_000, code(old, erp)):
        refused = client.post("/auth_totp/change", {"wizard_id": wizard_id, "totp_token": bad},
                              from_page="/web/preferences")
        assert refused.status_code == 400 and error_text(refused)
        assert stored_secret(erp) == sealed
    # another user's or a made-up wizard: refused
    for forged in ("999999", "abc", ""):
        refused = client.post("/auth_totp/change", {"wizard_id": forged,
                                                    "totp_token": code(new, erp)},
                              from_page="/web/preferences")
        assert refused.status_code == 400 and stored_secret(erp) == sealed
    # five wrong codes: a wait, like the first code of an activation
    waits = client.post("/auth_totp/change", {"wizard_id": wizard_id,
                                              "totp_token": code(new, erp)},
                        from_page="/web/preferences")
    assert waits.status_code == 429 and stored_secret(erp) == sealed
    erp.clock.advance(31)
    done = client.post("/auth_totp/change", {"wizard_id": wizard_id,
                                             "totp_token": code(new, erp)},
                       from_page="/web/preferences")
    assert client.path() == "/web/preferences?message=authenticator_changed"
    assert "les codes de l'ancienne ne fonctionnent plus" in text_of(done)
    assert stored_secret(erp) != sealed
    with erp.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "authenticator_changed")])
        assert event.user_id.login == "demo"
    # at sign-in: the old app's codes are refused, the new app's accepted; the recovery
    # codes and the rest stay
    erp.clock.advance(30)
    other = erp.client(**FR)
    password_step(other, "demo", USER_PASSWORD)
    assert submit_code(other, code(old, erp)).status_code == 401
    submit_code(other, code(new, erp))
    assert other.path() == "/web"
    assert count_rows(erp.server, "auth_totp_recovery_code", "WHERE used_at IS NULL") == 10
    # without 2FA there is nothing to change
    with erp.server.environment() as env:
        env["res.users"].search([("login", "=", "demo")])._totp_disable()
    assert other.get("/auth_totp/change").url.endswith("/web/preferences")


def test_no_moment_without_2fa_while_the_authenticator_changes(erp2fa):
    """The change submitted twice at once while other browsers sign in: exactly one
    change, and every one of those browsers is asked for a code, before and after."""
    erp = erp2fa
    old = enable_totp(erp, "demo")
    client = signed_in(erp, old)
    wizard_id, new = new_setup(change_page(client, erp))
    token = client.csrf("/web/preferences")
    waiting = [erp.client() for _ in range(6)]
    for browser in waiting:
        password_step(browser, "demo", USER_PASSWORD)

    def change(_):
        return client.session.post(erp.url + "/auth_totp/change", data={
            "wizard_id": wizard_id, "totp_token": code(new, erp), "csrf_token": token},
            allow_redirects=False, timeout=30)

    def look(browser):
        return browser.session.get(erp.url + "/web/login/totp", allow_redirects=False,
                                   timeout=30)

    with ThreadPoolExecutor(8) as pool:
        changes = [pool.submit(change, n) for n in range(2)]
        looks = [pool.submit(look, b) for b in waiting * 3]
        changes = [f.result() for f in changes]
        looks = [f.result() for f in looks]
    # one change; the other finds its wizard consumed (gone, or lost the conditional DELETE)
    assert sorted(r.status_code for r in changes) in ([303, 400], [303, 409])
    # never signed in without a code: each browser got the code form
    assert {r.status_code for r in looks} == {200}
    assert all('name="totp_token"' in r.text for r in looks)
    erp.clock.advance(30)
    assert submit_code(waiting[0], code(old, erp)).status_code == 401
    submit_code(waiting[1], code(new, erp))
    assert waiting[1].path() == "/web"


def test_an_old_code_checked_while_the_change_commits_is_refused(erp2fa, monkeypatch):
    """The code of the old app, matched against the old secret just before another worker
    commits the change, is refused: the step is recorded only on the secret it matched."""
    erp = erp2fa
    old = enable_totp(erp, "demo")
    now = erp.clock()
    with erp.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        wizard = env["auth_totp.wizard"].start(demo.id, now)
        demo_id, wizard_id, new = demo.id, wizard.id, totp.from_base32(wizard.secret)
    real_probe = totp.probe

    def probe_then_change(*args, **kwargs):
        found = real_probe(*args, **kwargs)
        with erp.server.environment() as other:  # another worker, committed meanwhile
            assert other["res.users"].browse(demo_id)._totp_replace(
                other["auth_totp.wizard"].browse(wizard_id), totp.code_at(new, now), now)
        return found

    monkeypatch.setattr(totp, "probe", probe_then_change)
    # the old app's code of the next step: later than the step the change records
    with erp.server.environment() as env:
        check = env["res.users"].browse(demo_id)._totp_check(
            totp.code_at(old, now + totp.PERIOD), now)
    assert check.verdict is Verdict.REUSED
    monkeypatch.setattr(totp, "probe", real_probe)
    with erp.server.environment() as env:
        user = env["res.users"].browse(demo_id)
        assert user._totp_check(totp.code_at(new, now + totp.PERIOD), now).verdict \
            is Verdict.ACCEPTED


def test_new_recovery_codes_and_few_left(erp2fa):
    erp = erp2fa
    secret = enable_totp(erp, "demo")
    client = signed_in(erp, secret)
    with erp.server.environment() as env:
        uid = env["res.users"].search([("login", "=", "demo")]).id
        old_codes = env["auth_totp.recovery_code"].generate(uid)
    page = regenerate(client)
    new_codes = CODES_RE.findall(page.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    download = html.fromstring(page.content).xpath("//a[@download='recovery-codes.txt']")[0]
    assert unquote(download.get("href")).removeprefix(
        "data:text/plain;charset=utf-8,").split("\n") == new_codes
    assert not CODES_RE.findall(client.get("/web/preferences").text)  # shown once
    # the old ones no longer sign in, the new ones do
    other = erp.client(**FR)
    password_step(other, "demo", USER_PASSWORD)
    refused = submit_code(other, old_codes[0])
    assert refused.status_code == 401 and "n'est pas valide" in error_text(refused)
    submit_code(other, new_codes[0])
    assert other.path() == "/web"
    prefs = html.fromstring(client.get("/web/preferences").content)
    assert prefs.xpath("//p[@id='recovery-low']") == []
    # down to two: Préférences says so
    with erp.server.environment() as env:
        for value in new_codes[1:8]:
            assert env["auth_totp.recovery_code"].consume(uid, value, now=erp.clock(), ip="")
    prefs = html.fromstring(client.get("/web/preferences").content)
    assert prefs.get_element_by_id("recovery-low").text == (
        "Il ne vous reste que 2 codes de récupération\u00a0: créez-en de nouveaux dans vos "
        "préférences.")
    # and so does the page after a sign-in with one, which then goes where it was going
    late = erp.client(**FR)
    late.post("/web/login", {"login": "demo", "password": USER_PASSWORD,
                             "redirect": "/web/preferences"}, from_page="/web/login")
    after = submit_code(late, new_codes[8])
    doc = html.fromstring(after.content)
    assert doc.get_element_by_id("recovery-low").text == (
        "Il ne vous reste qu'un code de récupération\u00a0: créez-en de nouveaux dans vos "
        "préférences.")
    assert doc.xpath("//a[normalize-space()='Continuer']/@href") == ["/web/preferences"]
    assert late.get("/web/preferences").url == erp.url + "/web/preferences"  # signed in
    last = erp.client(**FR)
    password_step(last, "demo", USER_PASSWORD)
    assert "aucun code de récupération" in text_of(submit_code(last, new_codes[9]))
