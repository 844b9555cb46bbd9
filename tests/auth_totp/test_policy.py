"""The company policy (issue 11): levels, grace period, the setup forced at sign-in, and
the administrator's page for it. Over HTTP, on SQLite and PostgreSQL (``erp2fa``).

The clock is the server's (``erp.clock``): a grace period of 48 hours passes in
one call, nothing sleeps.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from lxml import html

from auth_totp import totp
from tests.adversarial.attack import live_routes
from tests.auth_totp.test_activation import decode_qr
from tests.auth_totp.test_disable import run_cli
from tests.browser.conftest import STORY_TIME
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, count_rows, table_dump
from tests.support_totp import (
    CODES_RE,
    KEY_RE,
    WIZARD_RE,
    code,
    enable_totp,
    error_text,
    password_step,
    submit_code,
)

FR = {"Accept-Language": "fr"}
SETUP = "/web/login/totp/setup"
NOTICE = ("La double authentification sera obligatoire pour votre compte à partir du "
          "{date}. L'activer maintenant.")
HOUR = 3600


def set_policy(erp, level: str, grace: int = 48, ago: float = 0) -> None:
    """Set the policy as the command line does, *ago* seconds ago (the page and the
    command are tested on their own)."""
    with erp.server.environment() as env:
        env["res.users"]._totp_set_policy(level, grace, now=erp.clock() - ago, actor_id=None,
                                          ip="cli", detail="test")


def signed_in(erp, login: str, password: str):
    client = erp.client(**FR)
    client.login(login, password)
    assert client.path() == "/web", client.path()
    return client


def sign_in_leads_to(erp, login: str, password: str) -> str:
    """Where a correct password leads a fresh browser."""
    client = erp.client(**FR)
    client.login(login, password)
    return client.path()


def create_user(erp, login: str, *, admin: bool = False) -> None:
    with erp.server.environment() as env:
        groups = [env.ref("base.group_user").id]
        if admin:
            groups.append(env.ref("base.group_system").id)
        env["res.users"].create({"login": login, "name": login.title(),
                                 "password": USER_PASSWORD, "group_ids": groups})


def policy_state(erp) -> tuple[str, int]:
    with erp.server.environment() as env:
        return env.setting("auth_totp.policy"), env.setting("auth_totp.grace_hours")


def user_id(erp, login: str) -> int:
    with erp.server.environment() as env:
        return env["res.users"].search([("login", "=", login)]).id


def secrets_stored(erp) -> int:
    return count_rows(erp.server, "res_users", "WHERE totp_secret IS NOT NULL")


def setup_form(page) -> tuple[str, bytes]:
    """The wizard id and the secret (read from the key as text) of a setup page."""
    key = KEY_RE.search(page.text).group(1).replace(" ", "")
    return WIZARD_RE.search(page.text).group(1), totp.from_base32(key)


def wrong(secret: bytes, erp) -> str:
    """Six digits that are not a code of *secret* near now."""
    right = {code(secret, erp, steps) for steps in range(-20, 21)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in right)


def notice_of(page) -> str:
    found = html.fromstring(page.content).xpath("//p[@id='totp-notice']")
    return " ".join(found[0].text_content().split()) if found else ""


# -- the levels, and the settings page ----------------------------------------------------


def test_each_level_requires_2fa_of_whom_it_says(erp2fa):
    """optional: nobody; admins: administrators only; all: everyone. Grace 0: at once."""
    erp = erp2fa
    create_user(erp, "boss", admin=True)
    assert sign_in_leads_to(erp, "boss", USER_PASSWORD) == "/web"
    set_policy(erp, "admins", 0)
    assert sign_in_leads_to(erp, "boss", USER_PASSWORD) == SETUP
    assert sign_in_leads_to(erp, "admin", ADMIN_PASSWORD) == SETUP
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == "/web"
    set_policy(erp, "all", 0)
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == SETUP
    assert sign_in_leads_to(erp, "boss", USER_PASSWORD) == SETUP
    set_policy(erp, "optional", 0)
    for login, password in [("demo", USER_PASSWORD), ("admin", ADMIN_PASSWORD)]:
        assert sign_in_leads_to(erp, login, password) == "/web"


def test_an_administrator_from_now_on_gets_the_grace_period_from_now(erp2fa):
    """Under "admins", the policy first applies to a user the day they become one."""
    erp = erp2fa
    set_policy(erp, "admins", 48)
    erp.clock.advance(100 * HOUR)
    assert sign_in_leads_to(erp, "admin", ADMIN_PASSWORD) == SETUP  # due since long ago
    with erp.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        demo.write({"group_ids": [*demo.group_ids.ids, env.ref("base.group_system").id]})
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == "/web"
    erp.clock.advance(48 * HOUR)
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == SETUP


def test_settings_page_sets_the_policy_for_administrators_only(erp2fa):
    erp = erp2fa
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    menu = html.fromstring(admin.get("/web").content).xpath("//details[@class='usermenu']//a")
    assert [(a.text, a.get("href")) for a in menu] == [
        ("Préférences", "/web/preferences"), ("Paramètres", "/web/settings")]
    page = html.fromstring(admin.get("/web/settings").content)
    assert page.findtext(".//h1") == "Paramètres"
    section = page.get_element_by_id("totp-settings")
    assert section.findtext("h2") == "Authentification à deux facteurs"
    labels = [label.text for label in section.xpath(".//fieldset//label")]
    assert labels == ["Facultative\u00a0: chaque utilisateur choisit",
                      "Obligatoire pour les administrateurs",
                      "Obligatoire pour tous les utilisateurs"]
    assert section.xpath(".//input[@checked]/@value") == ["optional"]
    assert section.xpath(".//input[@name='grace_hours']/@value") == ["48"]

    saved = admin.post("/auth_totp/settings", {"policy": "all", "grace_hours": "0"},
                       from_page="/web/settings")
    assert admin.path() == "/web/settings?message=saved"
    assert "Les paramètres sont enregistrés." in saved.text
    page = html.fromstring(saved.content).get_element_by_id("totp-settings")
    assert page.xpath(".//input[@checked]/@value") == ["all"]
    assert page.xpath(".//input[@name='grace_hours']/@value") == ["0"]
    assert policy_state(erp) == ("all", 0)
    with erp.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "policy_changed")])
        assert len(event) == 1 and event.actor_id.login == "admin" and not event.user_id
        assert event.detail == "all, 0 h (was optional, 48 h)"
    # the audit page says who
    audit = html.fromstring(admin.get("/auth_totp/audit").content)
    row = audit.xpath("//tr[@data-event='policy_changed']")[0]
    assert [c.text_content().strip() for c in row.xpath("td")][2:4] == [
        "Politique 2FA modifiée", "admin"]


def test_the_settings_refuse_bad_input_and_change_nothing(erp2fa):
    erp = erp2fa
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    other = signed_in(erp, "admin", ADMIN_PASSWORD).csrf("/web/settings")
    demo = signed_in(erp, "demo", USER_PASSWORD)
    token = admin.csrf("/web/settings")
    before = table_dump(erp.server)
    bad_levels = ["", "ALL", "everyone", "all ", "x" * 10_000, "tous", "٢"]
    for level in bad_levels:
        refused = admin.post("/auth_totp/settings", {"policy": level, "grace_hours": "5"},
                             csrf=token)
        assert refused.status_code == 400, level
        assert error_text(refused) == "Choisissez qui doit utiliser la double authentification."
    for grace in ["", "abc", "-1", "8761", "1.5", "٣", "4" * 10_000, "0x10", " "]:
        refused = admin.post("/auth_totp/settings", {"policy": "all", "grace_hours": grace},
                             csrf=token)
        assert refused.status_code == 400, grace
        assert error_text(refused) == ("La période de grâce est un nombre entier d'heures, "
                                       "de 0 à 8760.")
        # the form keeps what was chosen
        page = html.fromstring(refused.content).get_element_by_id("totp-settings")
        assert page.xpath(".//input[@checked]/@value") == ["all"]
    # no CSRF token, a forged one, another session's
    for forged in (None, "", "0" * 64, other):
        response = admin.post("/auth_totp/settings", {"policy": "all", "grace_hours": "1"},
                              csrf=forged if forged is not None else False)
        assert response.status_code == 403
    # a plain user: no menu entry, no page, no change
    assert "/web/settings" not in demo.get("/web").text
    assert demo.get("/web/settings").status_code == 403
    forbidden = demo.post("/auth_totp/settings", {"policy": "optional", "grace_hours": "1"},
                          from_page="/web/preferences")
    assert forbidden.status_code == 403
    # a password check older than ten minutes: asked again, nothing done
    erp.clock.advance(601)
    stale = admin.post("/auth_totp/settings", {"policy": "all", "grace_hours": "1"},
                       csrf=token, headers={"Referer": erp.url + "/web/settings"})
    assert admin.path().startswith("/web/identity?redirect=%2Fweb%2Fsettings")
    assert stale.status_code == 200
    after = table_dump(erp.server)
    for table in ("http_session", "ir_throttle"):
        before.pop(table), after.pop(table)
    assert after == before
    assert policy_state(erp) == ("optional", 48)


# -- the grace period ----------------------------------------------------------------------


def test_before_the_deadline_a_notice_on_every_page_after_it_the_setup(erp2fa):
    erp = erp2fa
    erp.clock.set(STORY_TIME)  # 2030-03-04 08:30 UTC: the deadline is 2030-03-06 08:30 UTC
    with erp.server.environment() as env:
        env["res.users"].search([("login", "=", "admin")]).write({"lang": "en", "tz": "UTC"})
    demo = signed_in(erp, "demo", USER_PASSWORD)
    assert notice_of(demo.get("/web")) == ""  # optional: nothing said
    set_policy(erp, "all", 48)
    # before the deadline: signed in as before; every page gives the date, in the
    # user's language and time zone (demo: French, Paris), and the way to the setup
    demo = signed_in(erp, "demo", USER_PASSWORD)
    for path in ("/web", "/web/preferences"):
        page = demo.get(path)
        assert notice_of(page) == NOTICE.format(date="6 mars 2030, 09:30:00")
        link = html.fromstring(page.content).xpath("//p[@id='totp-notice']/a/@href")
        assert link == ["/auth_totp/setup"]
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    assert notice_of(admin.get("/web")) == ("Two-factor authentication will be required for "
                                            "your account from Mar 6, 2030, 8:30:00 AM. "
                                            "Turn it on now.")
    # an account created through Utilisateurs counts its 48 hours from its creation
    erp.clock.advance(47 * HOUR)
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == "/web"
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    admin.post("/web/users/create", {"login": "newcomer", "name": "New Comer",
                                     "password": USER_PASSWORD}, from_page="/web/users")
    assert admin.path() == "/web/users?message=created"
    erp.clock.advance(HOUR)  # the deadline, to the second
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == SETUP
    assert sign_in_leads_to(erp, "newcomer", USER_PASSWORD) == "/web"
    # a session opened before the deadline lives on, and says so
    assert notice_of(demo.get("/web")) == (
        "La double authentification est obligatoire pour votre compte depuis le 6 mars 2030, "
        "09:30:00 : votre prochaine connexion vous demandera de l'activer. "
        "L'activer maintenant.")
    erp.clock.advance(47 * HOUR - 1)
    assert sign_in_leads_to(erp, "newcomer", USER_PASSWORD) == "/web"
    erp.clock.advance(1)
    assert sign_in_leads_to(erp, "newcomer", USER_PASSWORD) == SETUP
    # a longer grace period moves every deadline; a user with 2FA on is never reminded
    set_policy(erp, "all", 200)
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == "/web"
    enable_totp(erp, "demo")
    assert notice_of(demo.get("/web/preferences")) == ""


# -- the setup the policy forces ------------------------------------------------------------

#: form fields that would make a POST do something if it were let through
PAYLOAD = {"name": "auth_totp", "login": "mallory", "password": "mallory-pass-1",
           "policy": "optional", "grace_hours": "9", "email": "m@example.com", "lang": "en",
           "tz": "UTC", "admin": "1", "totp_token": "123456", "wizard_id": "1"}


def test_after_the_deadline_the_setup_is_the_only_way_on(erp2fa):
    erp = erp2fa
    set_policy(erp, "all", 0)
    client = erp.client(**FR)
    late = erp.client(**FR)  # another browser, half signed in at the same time
    late.login("demo", USER_PASSWORD)
    page = client.login("demo", USER_PASSWORD)  # a new QR code: the other one is dropped
    assert client.path() == SETUP and late.path() == SETUP
    doc = html.fromstring(page.content)
    assert doc.get_element_by_id("totp-required").text_content().startswith(
        "La double authentification est désormais obligatoire pour votre compte.")
    # the QR code, the same key as text, the code field: no password asked again
    wizard_id, secret = setup_form(page)
    uri = decode_qr(page.text)
    assert parse_qs(urlsplit(uri).query)["secret"] == [totp.to_base32(secret)]
    assert doc.xpath("//input[@type='password']") == []
    assert doc.xpath("//form[@action='/web/login/totp/setup']//input/@name") == [
        "csrf_token", "wizard_id", "totp_token"]
    assert [b.text_content().strip() for b in doc.xpath("//button")] == ["Activer", "Annuler"]
    assert doc.xpath("//form[@id='cancel-form']/@action") == ["/web/session/logout"]
    assert doc.xpath("//details[@class='usermenu']") == []  # not signed in yet

    # every other page of this session leads back here, and nothing changes
    token = client.csrf()
    uid = user_id(erp, "demo")
    before = table_dump(erp.server)
    tried = 0
    for route in live_routes(erp):
        if route.rule.rule in (SETUP, "/web/session/logout"):
            continue
        for method in route.methods:
            data = {**PAYLOAD, "csrf_token": token} if method == "POST" else None
            response = client.session.request(method, erp.url + route.path({}, uid),
                                              data=data, allow_redirects=False, timeout=30)
            assert response.status_code in (303, 405), (method, route.rule.rule)
            if response.status_code == 303:
                assert response.headers["Location"].endswith(SETUP), (method, route.rule)
            tried += 1
    assert tried > 30
    after = table_dump(erp.server)
    before.pop("http_session"), after.pop("http_session")
    assert after == before

    # wrong codes of every shape: refused, the same QR code again, nothing stored;
    # counted with the sign-in codes, so the fifth starts a wait
    for n, bad in enumerate(["", "abcdef", "12345", "١٢٣٤٥٦", "9" * 10_000, wrong(secret, erp)]):
        refused = client.post(SETUP, {"wizard_id": wizard_id, "totp_token": bad}, csrf=token)
        assert refused.status_code == (429 if n == 5 else 401), (bad[:10], refused.status_code)
        assert setup_form(refused) == (wizard_id, secret)
        assert error_text(refused)
        assert secrets_stored(erp) == 0
    assert "Réessayez dans 30 secondes" in error_text(refused)
    assert client.post(SETUP, {"wizard_id": wizard_id, "totp_token": code(secret, erp)},
                       csrf=token).status_code == 429
    erp.clock.advance(31)

    # the right code: 2FA on, the recovery codes once, signed in
    right = code(secret, erp)
    done = client.post(SETUP, {"wizard_id": wizard_id, "totp_token": right}, csrf=token)
    assert done.status_code == 200 and client.path() == SETUP
    codes = CODES_RE.findall(done.text)
    assert len(codes) == 10
    assert html.fromstring(done.content).xpath(
        "//a[normalize-space()=\"Je les ai enregistrés\"]/@href") == ["/web"]
    assert client.get("/web").url == erp.url + "/web"
    assert secrets_stored(erp) == 1
    with erp.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "enabled")])
        assert event.user_id.login == "demo"
        assert event.detail == "at sign-in, required by the policy"
    # the other browser's half-signed-in session ended with the password-only ones
    late.post(SETUP, {"wizard_id": wizard_id, "totp_token": right}, from_page=SETUP)
    assert late.path() == "/web/login"
    # the code's step was recorded: the same code is a replay at the next sign-in
    password_step(late, "demo", USER_PASSWORD)
    assert "déjà été utilisé" in error_text(submit_code(late, right))
    assert secrets_stored(erp) == 1


def test_cancel_signs_out_and_the_setup_expires_like_a_code_page(erp2fa):
    erp = erp2fa
    set_policy(erp, "all", 0)
    client = erp.client(**FR)
    page = client.login("demo", USER_PASSWORD)
    cancel = html.fromstring(page.content).xpath("//form[@id='cancel-form']")[0]
    client.post(cancel.get("action"), csrf=client.csrf())
    assert client.path() == "/web/login"
    client.get("/web")
    assert client.path().startswith("/web/login?redirect=")
    # a half-signed-in session lasts ten minutes, here too
    slow = erp.client(**FR)
    page = slow.login("demo", USER_PASSWORD)
    wizard_id, secret = setup_form(page)
    erp.clock.advance(601)
    slow.post(SETUP, {"wizard_id": wizard_id, "totp_token": code(secret, erp)},
              from_page=None, csrf=slow.csrf())
    assert slow.path() == "/web/login?error=expired"
    assert secrets_stored(erp) == 0
    # nobody is locked out: where they were before, they can start again
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == SETUP
    # an expired QR code (the wizard lives ten minutes): a new one, said so
    again = erp.client(**FR)
    page = again.login("demo", USER_PASSWORD)
    old_id, old_secret = setup_form(page)
    with erp.server.environment() as env:
        env["auth_totp.wizard"].browse(int(old_id)).write({"create_date": erp.clock() - 601})
    refused = again.post(SETUP, {"wizard_id": old_id, "totp_token": "123456"},
                         from_page=None, csrf=again.csrf())
    assert refused.status_code == 400 and "expiré" in error_text(refused)
    assert setup_form(refused)[1] != old_secret  # a new QR code


def test_a_reset_by_an_administrator_gives_a_new_grace_period(erp2fa):
    erp = erp2fa
    erp.clock.set(STORY_TIME)
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    set_policy(erp, "all", 48)
    secret = enable_totp(erp, "demo")
    erp.clock.advance(100 * HOUR)  # every deadline of the policy has passed
    password_step(erp.client(), "demo", USER_PASSWORD)  # 2FA on: the code, as always
    admin.post("/web/identity", {"password": ADMIN_PASSWORD, "redirect": "/web/users"},
               from_page="/web/identity")
    users = admin.post(f"/auth_totp/users/{user_id(erp, 'demo')}/disable",
                       from_page="/web/users")
    assert admin.path() == "/web/users?message=totp_disabled"
    assert secrets_stored(erp) == 0
    # demo has 48 hours again from now: 2030-03-10 12:30 UTC, 13:30 in Paris
    row = html.fromstring(users.content).xpath("//tr[@data-login='demo']")[0]
    assert " ".join(row.xpath("td[@class='totp-state']")[0].text_content().split()) == \
        "Désactivée Obligatoire dès le 10 mars 2030, 13:30:00"
    demo = signed_in(erp, "demo", USER_PASSWORD)
    assert notice_of(demo.get("/web")) == NOTICE.format(date="10 mars 2030, 13:30:00")
    # nor can a user the policy covers turn 2FA off on their own
    secret = enable_totp(erp, "demo")
    demo = erp.client(**FR)
    password_step(demo, "demo", USER_PASSWORD)
    submit_code(demo, code(secret, erp))
    assert demo.path() == "/web"
    prefs = html.fromstring(demo.get("/web/preferences").content)
    assert prefs.xpath("//form[@action='/auth_totp/disable']") == []
    assert "ne peut pas être désactivée" in prefs.get_element_by_id(
        "totp-required-note").text_content()
    refused = demo.post("/auth_totp/disable", from_page="/web/preferences")
    assert refused.status_code == 400 and secrets_stored(erp) == 1
    assert "changez d'application" in error_text(refused)


# -- the command line ---------------------------------------------------------------------


def test_command_line_prints_sets_and_resets(erp2fa):
    """``erpcore 2fa policy`` and ``erpcore 2fa disable`` (a new grace period), run as
    their own processes: their clock is the real one, which the test's starts from."""
    erp = erp2fa
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    set_policy(erp, "all", 24, ago=30 * HOUR)  # every deadline passed six hours ago
    enable_totp(erp, "demo")
    reset = run_cli(erp, "2fa", "disable", "demo")
    assert reset.returncode == 0, reset.stderr
    lines = reset.stdout.splitlines()
    assert lines[0].startswith("2FA turned off for demo")
    assert lines[1].startswith("the policy requires 2FA of demo: they must turn it on again by ")
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == "/web"  # 24 hours again
    assert sign_in_leads_to(erp, "admin", ADMIN_PASSWORD) == SETUP  # no reset: due
    erp.clock.advance(24 * HOUR + 60)
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == SETUP

    shown = run_cli(erp, "2fa", "policy")
    assert shown.stdout == "policy: required for all users; grace period: 24 hours\n"
    done = run_cli(erp, "2fa", "policy", "admins", "--grace-hours", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "policy: required for administrators; grace period: 0 hours",
        "1 user(s) the policy requires 2FA of have not turned it on yet"]
    assert policy_state(erp) == ("admins", 0)
    assert sign_in_leads_to(erp, "demo", USER_PASSWORD) == "/web"
    with erp.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "policy_changed")], limit=1)
        assert (event.ip, event.actor_id.id, event.user_id.id) == ("cli", False, False)
        assert event.detail == ("erpcore 2fa policy admins --grace-hours 0: admins, 0 h "
                                "(was all, 24 h)")
    audit = html.fromstring(admin.get("/auth_totp/audit").content)
    cells = audit.xpath("//tr[@data-event='policy_changed']")[0].xpath("td")
    assert cells[3].text_content() == "ligne de commande"
    # refusals: one line, a non-zero status, nothing changed
    before = table_dump(erp.server)
    for args in (["policy", "sometimes"], ["policy", "all", "--grace-hours", "-1"]):
        refused = run_cli(erp, "2fa", *args)
        assert refused.returncode == 1, args
        assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("erpcore: error: ")
        assert "erpcore 2fa policy optional|admins|all [--grace-hours N]" in refused.stderr
    bypass = run_cli(erp, "config", "set", "auth_totp.policy", "optional")
    assert (bypass.returncode, bypass.stderr) == (
        1, "erpcore: error: auth_totp.policy is changed with 'erpcore 2fa policy'\n")
    after = table_dump(erp.server)
    before.pop("http_session"), after.pop("http_session")
    assert after == before
