"""The pages of the web addon, in French and English, and who may see them."""

from __future__ import annotations

import re

from lxml import html

from erpcore.modules.addons import discover
from tests.server.helpers import TEST_ADDONS
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, Client

SCRIPT = "<script>alert(1)</script>"


def user(erp, login: str):
    with erp.env() as env:
        found = env["res.users"].search([("login", "=", login)])
        return {name: getattr(found, name) for name in ("id", "name", "email", "lang", "tz",
                                                          "active", "password")}


def menu(page) -> list[str]:
    """The entries of the user menu."""
    tree = html.fromstring(page.content)
    return [" ".join(e.text_content().split())
            for e in tree.xpath("//details[@class='usermenu']/nav/*")]


def test_language_is_the_user_preference_else_the_browser_best_match(erp):
    for accept, heading in [("fr-FR,fr;q=0.9,en;q=0.5", "Connexion"), ("en-GB", "Sign in"),
                            ("de-DE, fr;q=0.5", "Connexion"), ("", "Sign in")]:
        page = erp.client(**{"Accept-Language": accept}).get("/web/login")
        assert html.fromstring(page.content).findtext(".//h1") == heading, accept
    french = erp.client(**{"Accept-Language": "fr"}).get("/web/login").text
    assert "Identifiant" in french and "Mot de passe" in french and 'lang="fr"' in french

    demo = erp.client(**{"Accept-Language": "en"})  # Marc Demo chose French
    home = demo.login("demo", USER_PASSWORD)
    assert menu(home) == ["Préférences", "Déconnexion"]
    assert html.fromstring(demo.get("/web/session/logout").content).findtext(
        ".//h1") == "Déconnexion"
    demo.post("/web/preferences/save", {"name": "Marc Demo", "email": "", "lang": "en",
                                        "tz": "UTC"}, from_page="/web/preferences")
    assert menu(demo.get("/web")) == ["Preferences", "Sign out"]
    assert html.fromstring(demo.get("/web/session/logout").content).findtext(
        ".//h1") == "Sign out"
    demo.post("/web/session/logout", from_page="/web")
    assert html.fromstring(demo.last.content).findtext(".//h1") == "Sign in"


def test_preferences_save_the_profile_and_change_the_password_with_the_current_one(
        erp, second_worker):
    demo = erp.client()
    demo.login("demo", USER_PASSWORD)
    elsewhere = Client(second_worker(erp))
    elsewhere.login("demo", USER_PASSWORD)
    page = demo.get("/web/preferences")
    assert [f.get("name") for f in html.fromstring(page.content).xpath(
        "//form[@action='/web/preferences/password']//input[@type='password']")] == [
        "old_password", "new_password", "confirm_password"]

    # the email address has a form of its own, with a password re-check (tests/mail)
    demo.post("/web/preferences/save", {"name": "Marc Démo", "email": "marc@example.com",
                                        "lang": "en", "tz": "Europe/Brussels"})
    assert demo.path() == "/web/preferences?message=saved"
    saved = user(erp, "demo")
    assert (saved["name"], saved["email"], saved["lang"], saved["tz"]) == (
        "Marc Démo", "demo@example.com", "en", "Europe/Brussels")
    for form, error in [({"lang": "xx"}, "Choose a language and a time zone from the lists."),
                        ({"name": ""}, "The name is required")]:
        values = {"name": "Marc", "lang": "en", "tz": "UTC", **form}
        refused = demo.post("/web/preferences/save", values, from_page="/web/preferences")
        assert refused.status_code == 400 and error in refused.text
    assert user(erp, "demo")["name"] == "Marc Démo"

    hashed = user(erp, "demo")["password"]
    new = "a-new-password-2"
    for old, confirm, error in [("wrong-password", new, "The current password is wrong."),
                                (USER_PASSWORD, "something-else", "The two new passwords differ."),
                                (USER_PASSWORD, "short", "The two new passwords differ.")]:
        refused = demo.post("/web/preferences/password", {
            "old_password": old, "new_password": new, "confirm_password": confirm},
            from_page="/web/preferences")
        assert refused.status_code == 400 and error in refused.text
    assert user(erp, "demo")["password"] == hashed
    demo.post("/web/preferences/password", {"old_password": USER_PASSWORD, "new_password": new,
                                            "confirm_password": new}, from_page="/web/preferences")
    assert demo.path() == "/web/preferences?message=password"
    assert demo.get("/web").url == demo.base + "/web"  # this session stays signed in
    assert elsewhere.get("/web").url.startswith(elsewhere.base + "/web/login")  # others do not
    assert "Wrong login or password." in erp.client().login("demo", USER_PASSWORD).text
    assert erp.client().login("demo", new).url.endswith("/web")


def test_applications_lists_every_addon_found_for_administrators_only(make_erp, backend):
    erp = make_erp(backend, addons_path=[TEST_ADDONS])
    admin = erp.client(**{"Accept-Language": "en"})
    admin.login("admin", ADMIN_PASSWORD)
    tree = html.fromstring(admin.get("/web/apps").content)
    cards = {li.get("data-addon"): li for li in tree.xpath("//ul[@class='apps']/li")}
    found = discover([TEST_ADDONS])
    assert set(cards) == set(found)  # built-ins, the addons path and entry points
    for name, card in cards.items():
        manifest = found[name].manifest
        assert card.xpath(".//img/@src") == [manifest.icon or "/web/static/description/icon.svg"]
        assert card.findtext(".//h2") == manifest.name
        assert " ".join(card.xpath(".//p")[0].text_content().split()) == manifest.summary
        buttons = [b.text for b in card.xpath(".//button")]
        if name in ("base", "web"):
            assert "Installé" in card.text_content() and buttons == []
        else:
            assert "Non installé" in card.text_content() and buttons == ["Installer"]
    assert admin.get("/test_feature/static/description/icon.svg").status_code == 200

    demo = erp.client()
    demo.login("demo", USER_PASSWORD)
    assert demo.get("/web/apps").status_code == 403
    assert "Applications" not in demo.get("/web").text  # no tile for a non-administrator


def test_settings_page_is_for_administrators_and_empty_in_the_framework(erp):
    """Paramètres: in the administrators' menu only; addons fill div#settings_sections."""
    admin = erp.client(**{"Accept-Language": "fr"})
    admin.login("admin", ADMIN_PASSWORD)
    assert menu(admin.get("/web")) == ["Préférences", "Paramètres", "Déconnexion"]
    page = html.fromstring(admin.get("/web/settings").content)
    assert page.findtext(".//h1") == "Paramètres"
    assert len(page.xpath("//div[@id='settings_sections']")) == 1
    assert page.xpath("//div[@id='settings_sections']/*") == []
    assert "ajoutent leurs paramètres" in page.text_content()
    demo = erp.client(**{"Accept-Language": "fr"})
    demo.login("demo", USER_PASSWORD)
    assert menu(demo.get("/web")) == ["Préférences", "Déconnexion"]
    assert demo.get("/web/settings").status_code == 403
    assert erp.client().get("/web/settings").url.endswith("/web/login?redirect=%2Fweb%2Fsettings")


def test_users_list_create_reset_password_and_archive(erp):
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    listed = html.fromstring(admin.get("/web/users").content).xpath("//tr/@data-login")
    assert listed == ["admin", "demo"]

    admin.post("/web/users/create", {"login": "claire", "name": "Claire", "email": "c@example.com",
                                     "password": "claire-password-1"}, from_page="/web/users")
    assert admin.path() == "/web/users?message=created"
    assert "claire" in html.fromstring(admin.last.content).xpath("//tr/@data-login")
    claire = erp.client()
    assert claire.login("claire", "claire-password-1").url.endswith("/web")
    assert claire.get("/web/users").status_code == 403  # not an administrator
    duplicate = admin.post("/web/users/create", {"login": "claire", "password": "xxxxxxxx1"},
                           from_page="/web/users")
    assert duplicate.status_code == 400 and "Cet identifiant est déjà utilisé." in duplicate.text

    cid = user(erp, "claire")["id"]
    admin.post(f"/web/users/{cid}/password", {"password": "reset-password-2"},
               from_page="/web/users")
    assert claire.get("/web").url.startswith(claire.base + "/web/login")  # signed out
    assert erp.client().login("claire", "reset-password-2").url.endswith("/web")
    admin.post(f"/web/users/{cid}/archive", from_page="/web/users")
    assert user(erp, "claire")["active"] is False
    assert "Wrong login or password." in erp.client().login(
        "claire", "reset-password-2").text
    admin.post(f"/web/users/{cid}/archive", from_page="/web/users")  # restore
    assert erp.client().login("claire", "reset-password-2").url.endswith("/web")
    myself = admin.post(f"/web/users/{user(erp, 'admin')['id']}/archive", from_page="/web/users")
    assert myself.status_code == 400 and user(erp, "admin")["active"] is True

    demo = erp.client()
    demo.login("demo", USER_PASSWORD)
    assert demo.get("/web/users").status_code == 403
    token = demo.csrf("/web")
    for url in ("/web/users/create", f"/web/users/{cid}/password", f"/web/users/{cid}/archive"):
        refused = demo.post(url, {"login": "x", "password": "xxxxxxxxx"}, csrf=token)
        assert refused.status_code == 403
    assert user(erp, "claire")["active"] is True


def test_a_script_as_user_name_is_escaped_on_every_page(erp):
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    admin.post("/web/users/create", {"login": "xss", "name": SCRIPT, "password": "xss-password-1",
                                     "admin": "1"}, from_page="/web/users")
    assert admin.path() == "/web/users?message=created"
    with erp.server.engine.connect() as conn:
        rules = erp.server.registry(conn).url_map.iter_rules()
        pages = sorted({r.rule for r in rules
                        if (r.methods is None or "GET" in r.methods) and "<" not in r.rule})
    assert {"/web", "/web/preferences", "/web/apps", "/web/users", "/web/identity"} <= set(pages)
    xss = erp.client()
    xss.login("xss", "xss-password-1")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for client in (xss, admin):
        for url in pages:
            page = client.get(url)
            assert SCRIPT not in page.text, url
            assert "<script" not in page.text.lower(), url
            if client is xss and page.url != client.base + "/web/login":
                assert escaped in page.text, url
    assert escaped in admin.get("/web/users").text


def test_templates_are_compiled_once_not_at_every_request(erp, monkeypatch):
    from erpcore.qweb import engine

    compiled: list[str] = []
    original = engine.compile_template

    def counting(key, arch, lookup):
        compiled.append(key)
        return original(key, arch, lookup)

    monkeypatch.setattr(engine, "compile_template", counting)
    client = erp.client()
    client.login("demo", USER_PASSWORD)
    client.get("/web/preferences")
    first = len(compiled)
    assert "web.preferences" in compiled and "web.layout" in compiled
    for _ in range(3):
        client.get("/web/preferences")
        client.get("/web")
    assert len(compiled) == first
    assert re.search(r"Marc Demo", client.last.text)
