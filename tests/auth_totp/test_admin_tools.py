"""Utilisateurs under issue 11: the 2FA column filtered and showing deadlines, revoking a
user's trusted browsers, inviting a user to turn 2FA on. Over HTTP, on SQLite and
PostgreSQL."""

from __future__ import annotations

from lxml import html

from tests.auth_totp.test_policy import FR, create_user, set_policy, signed_in, user_id
from tests.browser.conftest import STORY_TIME
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, count_rows, table_dump
from tests.support_totp import code, enable_totp, error_text, password_step, submit_code


def rows(page) -> dict[str, str]:
    """Each listed login and the text of its 2FA cell."""
    doc = html.fromstring(page.content)
    return {row.get("data-login"): " ".join(row.xpath("td[@class='totp-state']")[0]
                                            .text_content().split())
            for row in doc.xpath("//tr[@name='user_row']")}


def test_the_2fa_column_is_filtered_and_shows_deadlines(erp2fa):
    erp = erp2fa
    erp.clock.set(STORY_TIME)
    create_user(erp, "boss", admin=True)
    create_user(erp, "carol")
    enable_totp(erp, "demo")
    set_policy(erp, "admins", 48)
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    deadline = "Désactivée Obligatoire dès le 6 mars 2030, 09:30:00"
    assert rows(admin.get("/web/users")) == {
        "admin": deadline, "boss": deadline, "carol": "Désactivée", "demo": "Activée"}
    assert list(rows(admin.get("/web/users?totp=on"))) == ["demo"]
    assert list(rows(admin.get("/web/users?totp=off"))) == ["admin", "boss", "carol"]
    page = admin.get("/web/users?totp=required")
    assert list(rows(page)) == ["admin", "boss"]
    nav = html.fromstring(page.content).xpath("//nav[@class='totp-filters']/a")
    assert [(a.text, a.get("aria-current")) for a in nav] == [
        ("Tous", None), ("Activée", None), ("Désactivée", None),
        ("Obligatoire, pas encore activée", "page")]
    for bad in ("ON", "required ", "x" * 10_000, "activée", "\u0661"):
        refused = admin.get("/web/users", params={"totp": bad})
        assert refused.status_code == 400
        assert error_text(refused) == "Choisissez un filtre de la liste."
        assert list(rows(refused)) == ["admin", "boss", "carol", "demo"]
    # a plain user sees no list at all, filtered or not
    carol = signed_in(erp, "carol", USER_PASSWORD)
    for query in ("?totp=required", "?totp=bad"):
        assert carol.get("/web/users" + query).status_code == 403


def test_an_administrator_revokes_every_trusted_browser_of_a_user(erp2fa):
    erp = erp2fa
    secret = enable_totp(erp, "demo")
    browsers = []
    for _ in range(2):  # two browsers trusted for 90 days
        browser = erp.client(**FR)
        password_step(browser, "demo", USER_PASSWORD)
        submit_code(browser, code(secret, erp), remember=True)
        assert browser.path() == "/web"
        browser.post("/web/session/logout", from_page="/web")
        erp.clock.advance(30)
        browsers.append(browser)
    assert count_rows(erp.server, "auth_totp_device") == 2
    browsers[0].login("demo", USER_PASSWORD)
    assert browsers[0].path() == "/web"  # trusted: no code asked
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    row = html.fromstring(admin.get("/web/users").content).xpath(
        "//tr[@data-login='demo']")[0]
    button = row.xpath(".//form[contains(@action, '/devices/revoke')]//button")[0]
    assert button.text == "Révoquer les navigateurs de confiance"
    admin.post(f"/auth_totp/users/{user_id(erp, 'demo')}/devices/revoke",
               from_page="/web/users")
    assert admin.path() == "/web/users?message=devices_revoked"
    assert count_rows(erp.server, "auth_totp_device") == 0
    with erp.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "devices_revoked_by_admin")])
        assert event.user_id.login == "demo" and event.actor_id.login == "admin"
        assert event.detail == "all (2)"
    # each browser is asked for the code again
    browsers[1].login("demo", USER_PASSWORD)
    assert browsers[1].path() == "/web/login/totp"
    # a second press changes nothing and records nothing; an unknown user is a 404
    before = table_dump(erp.server, ["auth_totp_device", "auth_totp_event"])
    admin.post(f"/auth_totp/users/{user_id(erp, 'demo')}/devices/revoke",
               from_page="/web/users")
    assert table_dump(erp.server, ["auth_totp_device", "auth_totp_event"]) == before
    missing = admin.post("/auth_totp/users/99999/devices/revoke", from_page="/web/users")
    assert missing.status_code == 404


def test_inviting_without_mail_shows_the_link_to_give(erp2fa):
    erp = erp2fa
    create_user(erp, "carol")
    enable_totp(erp, "demo")
    admin = signed_in(erp, "admin", ADMIN_PASSWORD)
    users = html.fromstring(admin.get("/web/users").content)
    carol_row = users.xpath("//tr[@data-login='carol']")[0]
    assert carol_row.xpath(".//form[contains(@action, '/invite')]//button")[0].text == \
        "Inviter à activer la 2FA"
    assert users.xpath("//tr[@data-login='demo']//form[contains(@action, '/invite')]") == []
    page = admin.post(f"/auth_totp/users/{user_id(erp, 'carol')}/invite",
                      from_page="/web/users")
    assert page.status_code == 200
    box = html.fromstring(page.content).get_element_by_id("totp-invite")
    text, link = (p.text_content() for p in box.xpath("p"))
    assert text == ("L'envoi de courriels n'est pas configuré\u00a0: aucune invitation n'est "
                    "partie. Donnez ce lien à Carol\u00a0: une fois connecté, il mène à "
                    "l'activation de la double authentification.")
    assert link == erp.url + "/auth_totp/setup"
    with erp.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "invited")])
        assert event.user_id.login == "carol" and event.actor_id.login == "admin"
        assert event.detail == "link"
    # the link signs nobody in: it asks for the password, then shows the setup
    carol = erp.client(**FR)
    carol.get(link.removeprefix(erp.url))
    assert carol.path() == "/web/login?redirect=%2Fauth_totp%2Fsetup"
    carol.post("/web/login", {"login": "carol", "password": USER_PASSWORD,
                              "redirect": "/auth_totp/setup"}, from_page=None,
               csrf=carol.csrf())
    assert carol.path() == "/auth_totp/setup"
    assert 'id="totp-key"' in carol.last.text
    # inviting a user whose 2FA is on does nothing; an unknown user is a 404
    before = table_dump(erp.server, ["auth_totp_event"])
    admin.post(f"/auth_totp/users/{user_id(erp, 'demo')}/invite", from_page="/web/users")
    assert admin.path() == "/web/users"
    assert table_dump(erp.server, ["auth_totp_event"]) == before
    assert admin.post("/auth_totp/users/99999/invite",
                      from_page="/web/users").status_code == 404
