"""The user's email address: set by an administrator, changed in Préférences after a
password re-check, refused when mail could not go to it; the old address is told."""

from __future__ import annotations

from lxml import html as lxml_html

from tests.mail.conftest import parts, wait_all_sent
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, table_dump

BAD_ADDRESSES = [
    "letters", "x" * 10_000, "marc@", "@example.com", "marc@example", "marc@@example.com",
    "١٢٣@example.com", "marc@exämple.com", "marc demo@example.com",
    "marc@example.com\r\nBcc: a@b.cd",
    "<marc@example.com>", "Marc <marc@example.com>", "marc@example.com,eve@example.com",
    "marc..demo@example.com", "x" * 65 + "@example.com",
]


def email_of(erp, login: str) -> str:
    with erp.env() as env:
        return env["res.users"].search([("login", "=", login)]).email


def test_the_address_changes_after_a_password_check_and_the_old_one_is_told(mail_erp, smtp):
    erp = mail_erp(addons=())
    demo = erp.client()
    demo.login("demo", USER_PASSWORD)
    page = lxml_html.fromstring(demo.get("/web/preferences").content)
    assert page.xpath("//section[@id='email_section']//input[@name='email']/@value") == [
        "demo@example.com"]
    token = demo.csrf()
    erp.clock.advance(601)  # the password was checked more than ten minutes ago
    stale = demo.post("/web/preferences/email", {"email": "marc@example.org"}, csrf=token,
                      headers={"Referer": erp.url + "/web/preferences"})
    assert demo.path().startswith("/web/identity") and stale.status_code == 200
    assert email_of(erp, "demo") == "demo@example.com"
    demo.post("/web/identity", {"password": USER_PASSWORD, "redirect": "/web/preferences"})

    before = table_dump(erp.server)
    for bad in BAD_ADDRESSES:
        refused = demo.post("/web/preferences/email", {"email": bad},
                            from_page="/web/preferences")
        assert refused.status_code == 400, bad
        assert lxml_html.fromstring(refused.content).findtext(".//p[@id='email-error']") == \
            "Cette adresse électronique n'est pas valide."
    forged = demo.post("/web/preferences/email", {"email": "eve@example.com"}, csrf=False)
    assert forged.status_code == 403
    assert table_dump(erp.server) == before
    assert smtp.received == []

    demo.post("/web/preferences/email", {"email": " marc@example.org "},
              from_page="/web/preferences")
    assert demo.path() == "/web/preferences?message=email"
    assert "Votre adresse électronique est enregistrée." in lxml_html.fromstring(
        demo.last.content).text_content()
    assert email_of(erp, "demo") == "marc@example.org"
    told = smtp.wait_for(1)[0]
    assert told.rcpt_tos == ("demo@example.com",)  # the old address, not the new one
    assert told.message["Subject"] == "L'adresse électronique de votre compte a été changée"
    text = parts(told.message)["text/plain"]
    assert "a été remplacée par marc@example.org" in text
    assert "Connexion <https://erp.example.com/web/login>" in text

    demo.post("/web/preferences/email", {"email": ""}, from_page="/web/preferences")
    assert email_of(erp, "demo") is False  # no address: no mail about the account
    erp.clock.advance(600)  # the second message of a kind waits ten minutes
    removed = smtp.wait_for(2)[1]
    wait_all_sent(erp)
    assert removed.rcpt_tos == ("marc@example.org",)
    assert "a été supprimée" in parts(removed.message)["text/plain"]
    assert len(smtp.received) == 2

    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    admin.post("/web/users/create", {"login": "ana", "name": "Ana", "password": "ana-password-1",
                                     "email": "ana@example.org"}, from_page="/web/users")
    users = lxml_html.fromstring(admin.last.content)
    assert users.xpath("//tr[@data-login='ana']/td[@class='email']/text()") == [
        "ana@example.org"]
    before = table_dump(erp.server)
    for bad in BAD_ADDRESSES[:4]:
        refused = admin.post("/web/users/create", {
            "login": "bob", "name": "Bob", "password": "bob-password-1", "email": bad},
            from_page="/web/users")
        assert refused.status_code == 400
        assert lxml_html.fromstring(refused.content).findtext(".//p[@id='form-error']") == \
            "Cette adresse électronique n'est pas valide."  # the administrator reads French
    assert table_dump(erp.server) == before
