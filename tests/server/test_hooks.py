"""The public hooks a second-factor addon builds on, exercised by the test addons:
``res.users._mfa_url()``, ``identity=True`` routes, and templates extended by xpath."""

from __future__ import annotations

from urllib.parse import quote

from lxml import html

from tests.server.helpers import install
from tests.support import ADMIN_PASSWORD, USER_PASSWORD

CODE = "424242"


def enable_fake_factor(erp, login: str = "demo") -> None:
    with erp.env() as env:
        env["res.users"].search([("login", "=", login)]).write({"test_mfa_enabled": True})


def demo_name(erp) -> str:
    with erp.env() as env:
        return env["res.users"].search([("login", "=", "demo")]).name


def test_mfa_url_half_signs_in_with_access_to_its_page_and_sign_out_only(addon_erp):
    install(addon_erp, "test_mfa")
    enable_fake_factor(addon_erp)
    client = addon_erp.client()
    client.get("/web/login")
    anonymous = client.cookie("session_id")
    client.login("demo", USER_PASSWORD)
    assert client.path() == "/test_mfa/verify"
    half = client.cookie("session_id")
    assert half != anonymous
    for url in ("/", "/web", "/web/preferences", "/web/users", "/web/login", "/web/identity",
                "/test_mfa/sensitive"):
        assert client.get(url).url == client.base + "/test_mfa/verify", url
    token = client.csrf("/test_mfa/verify")
    client.post("/web/preferences/save", {"name": "Hijacked", "lang": "fr", "tz": "UTC"},
                csrf=token)
    assert client.path() == "/test_mfa/verify" and demo_name(addon_erp) == "Marc Demo"
    assert "wrong code" in client.post("/test_mfa/verify", {"code": "000000"}).text
    client.post("/test_mfa/verify", {"code": CODE})
    assert client.path() == "/web"
    assert client.cookie("session_id") not in (anonymous, half)
    assert client.get("/web/preferences").status_code == 200
    # a user without a second factor signs in at once
    admin = addon_erp.client()
    assert admin.login("admin", ADMIN_PASSWORD).url == admin.base + "/web"


def test_half_signed_in_session_can_sign_out_and_expires_after_10_minutes(addon_erp):
    install(addon_erp, "test_mfa")
    enable_fake_factor(addon_erp)
    leaving = addon_erp.client()
    leaving.login("demo", USER_PASSWORD)
    leaving.post("/web/session/logout", from_page="/test_mfa/verify")
    assert leaving.path() == "/web/login"
    assert leaving.get("/test_mfa/verify").url == leaving.base + "/web/login"

    late = addon_erp.client()
    late.login("demo", USER_PASSWORD)
    token = late.csrf("/test_mfa/verify")
    addon_erp.clock.advance(9 * 60)
    assert late.get("/test_mfa/verify").url == late.base + "/test_mfa/verify"
    addon_erp.clock.advance(60 + 1)
    assert late.get("/test_mfa/verify").url.startswith(late.base + "/web/login")
    late.post("/test_mfa/verify", {"code": CODE}, csrf=token)
    assert late.get("/web").url.startswith(late.base + "/web/login")


def test_identity_routes_ask_the_password_again_after_10_minutes(addon_erp):
    install(addon_erp, "test_mfa")
    client = addon_erp.client(**{"Accept-Language": "en"})
    client.login("demo", USER_PASSWORD)
    assert client.get("/test_mfa/sensitive").status_code == 200  # checked at sign-in
    addon_erp.clock.advance(10 * 60 + 1)
    page = client.get("/test_mfa/sensitive?tab=2")
    assert client.path() == "/web/identity?redirect=" + quote("/test_mfa/sensitive?tab=2", "")
    assert 'name="password"' in page.text
    assert "Mot de passe incorrect." in client.post(
        "/web/identity?redirect=%2Ftest_mfa%2Fsensitive%3Ftab%3D2", {"password": "nope"}).text
    client.post("/web/identity?redirect=%2Ftest_mfa%2Fsensitive%3Ftab%3D2",
                {"password": USER_PASSWORD})
    assert client.path() == "/test_mfa/sensitive?tab=2"
    token = client.csrf()

    # a form posted with a stale check is not applied; the password page sends the
    # user back to the page of the form, if that page is on this site
    addon_erp.clock.advance(10 * 60 + 1)
    for referrer, back in [(client.base + "/test_mfa/sensitive?tab=2", "/test_mfa/sensitive?tab=2"),
                           ("https://evil.example/test_mfa/sensitive", "/web/preferences"),
                           (None, "/web/preferences")]:
        headers = {"Referer": referrer} if referrer else {}
        client.post("/test_mfa/sensitive", {"name": "Changed"}, csrf=token, headers=headers)
        assert client.path() == "/web/identity?redirect=" + quote(back, "")
        assert demo_name(addon_erp) == "Marc Demo"
    client.post("/web/identity?redirect=%2Ftest_mfa%2Fsensitive", {"password": USER_PASSWORD})
    client.post("/test_mfa/sensitive", {"name": "Changed"}, from_page="/test_mfa/sensitive")
    assert demo_name(addon_erp) == "Changed"


def test_addons_add_sections_to_preferences_and_columns_and_actions_to_users(addon_erp):
    install(addon_erp, "test_feature")
    with addon_erp.env() as env:
        env["res.users"].search([("login", "=", "demo")]).write({"nickname": "marco"})
    admin = addon_erp.client()  # reads French: the addon's catalogue translates its parts
    admin.login("admin", ADMIN_PASSWORD)
    preferences = html.fromstring(admin.get("/web/preferences").content)
    section = preferences.xpath("//div[@id='preferences_sections']/section")
    assert [s.get("id") for s in section] == ["test_feature_section"]
    assert section[0].findtext("h2") == "Section de test"

    users = html.fromstring(admin.get("/web/users").content)
    header = [th.text_content() for th in users.xpath("//tr[@id='users_header']/th")]
    assert header[-2:] == ["Surnom", "Actions"]
    rows = users.xpath("//tr[@name='user_row']")
    assert len(rows) == 2
    for row in rows:
        cells = row.xpath("./td")
        assert len(cells) == len(header)
        assert cells[-1].get("name") == "user_actions"
        assert cells[-1].xpath(".//a[contains(@class, 'test-feature-action')]")[0].text == "Saluer"
    demo_row = users.xpath("//tr[@data-login='demo']")[0]
    assert demo_row.xpath("./td[contains(@class, 'test-feature-nickname')]")[0].text == "marco"
