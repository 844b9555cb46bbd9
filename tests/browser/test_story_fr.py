"""The user story of DESIGN section 1, in French, in a real browser.

An administrator installs the addon from Applications; Marc (login ``demo``)
turns two-factor authentication on from Préférences by scanning the QR code
on his screen, signs in with a code, with a recovery code, trusts his browser;
the administrator turns his 2FA off. The screenshots of ``doc/img/fr-*``
come from here.

Codes are single use per 30-second step, so the server's clock (``erp.clock``)
moves 30 seconds before each sign-in that takes a code; nothing sleeps.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from auth_totp import totp
from tests.browser.conftest import STORY_TIME
from tests.browser.pages import (
    CODE_RE,
    open_user_menu,
    path_of,
    press,
    read_qr,
    shoot,
    sign_in,
)
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import enable_totp

pytestmark = pytest.mark.browser

TOTP_TITLE = "Authentification 2FA"
TOTP_TEXT = ("Pour se connecter, entrer le code d'authentification à 6 chiffres fourni par "
             "votre application d'authentification.")


def code_now(erp, secret: bytes) -> str:
    return totp.code_at(secret, erp.clock())


def expect_home(page) -> None:
    assert path_of(page) == "/web", path_of(page)


def sign_out(page) -> None:
    open_user_menu(page, "Déconnexion")
    assert path_of(page) == "/web/login"


def test_story_in_french(make_erp, open_context, same_pictures, tmp_path: Path):
    erp = make_erp("sqlite")  # without auth_totp: it is installed through the page
    erp.clock.set(STORY_TIME)
    admin = open_context(erp).new_page()
    user = open_context(erp).new_page()

    # -- the administrator installs the addon from Applications ----------------------
    sign_in(admin, "admin", ADMIN_PASSWORD)
    expect_home(admin)
    admin.get_by_role("link", name="Applications").click()
    card = admin.locator("li.app[data-addon=auth_totp]")
    assert "Two-Factor Authentication (TOTP)" in card.inner_text()
    shoot(admin, "fr-applications")
    card.get_by_role("button", name="Installer").click()
    admin.wait_for_load_state()
    assert "Installé" in admin.locator("li.app[data-addon=auth_totp]").inner_text()

    # -- Marc: Préférences, then Authentification 2FA; the password is asked again ---
    sign_in(user, "demo", USER_PASSWORD)
    expect_home(user)
    erp.clock.advance(601)  # the sign-in is now older than the 10 minutes of trust
    user.locator("details.usermenu > summary").click()
    shoot(user, "fr-user-menu")
    open_user_menu(user, "Préférences")
    assert path_of(user) == "/web/preferences"
    section = user.locator("#totp-section")
    assert section.get_by_role("heading").inner_text() == TOTP_TITLE
    shoot(user, "fr-preferences")
    section.get_by_role("link", name=TOTP_TITLE).click()
    user.wait_for_load_state()
    assert path_of(user).startswith("/web/identity")
    shoot(user, "fr-identity")
    user.fill("#password", USER_PASSWORD)
    user.get_by_role("button", name="Confirmer").click()
    user.wait_for_load_state()
    assert path_of(user) == "/auth_totp/setup"

    # -- the QR code, read from the screen as the phone would ---------------------------
    shoot(user, "fr-setup")
    uri = read_qr(user)
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path).endswith(":demo")
    assert query["algorithm"] == ["SHA1"] and query["digits"] == ["6"]
    assert query["period"] == ["30"]
    secret = totp.from_base32(query["secret"][0])
    # the same key as text, grouped by four, for people who cannot scan
    user.locator("details.manual-key > summary").click()
    shown = user.locator("#totp-key").inner_text()
    assert shown.replace(" ", "") == query["secret"][0]
    assert all(len(group) == 4 for group in shown.split()[:-1])

    # a wrong code does not turn 2FA on
    user.fill("#totp_token", "000000" if code_now(erp, secret) != "000000" else "111111")
    user.get_by_role("button", name="Activer").click()
    user.wait_for_load_state()
    alert = user.get_by_role("alert")
    assert alert.inner_text().startswith("Ce code ne correspond pas à cette clé.")
    assert user.get_attribute("#totp_token", "aria-describedby") == alert.get_attribute("id")
    user.fill("#totp_token", code_now(erp, secret))
    user.get_by_role("button", name="Activer").click()
    user.wait_for_load_state()

    # -- the recovery codes, shown once, and the same codes in the download -------------
    codes = [li.strip() for li in user.locator("#recovery-codes li").all_inner_texts()]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(CODE_RE.match(c) for c in codes), codes
    shoot(user, "fr-recovery-codes")
    link = user.get_by_role("link", name="Télécharger en fichier texte")
    assert link.get_attribute("download") == "recovery-codes.txt"
    with user.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "recovery-codes.txt"
    saved = tmp_path / "codes.txt"
    download.save_as(saved)
    assert saved.read_text().split() == codes
    user.get_by_role("link", name="Je les ai enregistrés").click()
    user.wait_for_load_state()
    assert section.locator(".totp-state").inner_text() == "L'authentification 2FA est activée."
    shoot(user, "fr-preferences-on")
    sign_out(user)

    # -- next sign-in: password, then the code, on "Authentification 2FA" ---------------
    shoot(user, "fr-login")
    erp.clock.advance(30)  # the code used to activate cannot be used again
    sign_in(user, "demo", USER_PASSWORD)
    assert path_of(user) == "/web/login/totp"
    assert user.get_by_role("heading", level=1).inner_text() == TOTP_TITLE
    assert TOTP_TEXT in user.locator("main").inner_text()
    assert user.get_by_placeholder("ex: 123456").is_visible()
    shoot(user, "fr-totp")
    user.fill("#totp_token", code_now(erp, secret))
    user.get_by_role("button", name="Connexion").click()
    user.wait_for_load_state()
    expect_home(user)
    sign_out(user)

    # -- a lost phone: a recovery code instead --------------------------------------------
    erp.clock.advance(30)
    sign_in(user, "demo", USER_PASSWORD)
    user.get_by_role("link", name=re.compile("code de récupération")).click()
    user.wait_for_load_state()
    shoot(user, "fr-totp-recovery")
    user.fill("#totp_token", codes[0])
    user.get_by_role("button", name="Connexion").click()
    user.wait_for_load_state()
    expect_home(user)
    open_user_menu(user, "Préférences")
    assert "9 sur 10" in user.locator("#recovery-left").inner_text()
    sign_out(user)
    # a recovery code works once
    erp.clock.advance(30)
    sign_in(user, "demo", USER_PASSWORD)
    user.goto("/web/login/totp?mode=recovery")
    user.fill("#totp_token", codes[0])
    user.get_by_role("button", name="Connexion").click()
    user.wait_for_load_state()
    assert path_of(user).startswith("/web/login/totp")
    assert user.get_by_role("alert").is_visible()
    user.get_by_role("button", name="Annuler").click()
    user.wait_for_load_state()
    assert path_of(user) == "/web/login"

    # -- a trusted browser is not asked again ------------------------------------------------
    erp.clock.advance(30)
    sign_in(user, "demo", USER_PASSWORD)
    user.fill("#totp_token", code_now(erp, secret))
    user.get_by_label(re.compile("Ne plus demander sur ce navigateur")).check()
    user.get_by_role("button", name="Connexion").click()
    user.wait_for_load_state()
    expect_home(user)
    sign_out(user)
    sign_in(user, "demo", USER_PASSWORD)
    expect_home(user)  # no code asked
    open_user_menu(user, "Préférences")
    assert user.locator("#totp-section table tbody tr").count() == 1
    shoot(user, "fr-preferences-trusted")
    sign_out(user)

    # -- the administrator turns Marc's 2FA off from Utilisateurs ------------------------------
    admin.goto("/web")
    admin.get_by_role("link", name="Utilisateurs").click()
    row = admin.locator("tr[data-login=demo]")
    assert row.locator(".totp-state").inner_text() == "Activée"
    shoot(admin, "fr-users")
    row.get_by_role("button", name="Désactiver la 2FA").click()
    admin.wait_for_load_state()
    # the administrator signed in more than 10 minutes ago: password first, then back to
    # the page holding the button (a form post is not replayed), and the button again
    assert path_of(admin).startswith("/web/identity")
    admin.fill("#password", ADMIN_PASSWORD)
    admin.get_by_role("button", name="Confirmer").click()
    admin.wait_for_load_state()
    assert path_of(admin) == "/web/users"
    admin.locator("tr[data-login=demo]").get_by_role("button", name="Désactiver la 2FA").click()
    admin.wait_for_load_state()
    assert admin.locator("tr[data-login=demo] .totp-state").inner_text() == "Désactivée"

    # and Marc signs in with his password alone, on a browser he never trusted
    fresh = open_context(erp).new_page()
    sign_in(fresh, "demo", USER_PASSWORD)
    expect_home(fresh)


def test_keyboard_only_sign_in_with_announced_errors(make_erp, open_context):
    """Tab and Enter only; the code field has focus; errors are alerts tied to the field."""
    erp = make_erp("sqlite", addons=("auth_totp",))
    secret = enable_totp(erp, "demo")
    page = open_context(erp).new_page()
    keys = page.keyboard
    active = "document.activeElement && document.activeElement.id"

    page.goto("/web/login")
    assert page.evaluate(active) == "login"
    keys.type("demo")
    keys.press("Tab")
    keys.type("not-the-password")
    press(page, "Enter")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "Identifiant ou mot de passe incorrect."
    assert page.get_attribute("#login", "aria-describedby") == alert.get_attribute("id")
    assert page.evaluate(active) == "login"  # still filled in with "demo"
    keys.press("Tab")
    keys.type(USER_PASSWORD)
    press(page, "Enter")
    assert path_of(page) == "/web/login/totp"
    assert page.evaluate(active) == "totp_token"

    # wrong, and not even a code of a nearby step (that would be the clock message)
    wrong = next(c for c in ("123456", "654321", "111111")
                 if totp.match(secret, c, erp.clock(), window=totp.DRIFT_LIMIT) is None)
    keys.type(wrong)
    press(page, "Enter")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "Code d'authentification incorrect."
    field = page.locator("#totp_token")
    assert field.get_attribute("aria-describedby") == alert.get_attribute("id")
    assert field.get_attribute("aria-invalid") == "true"
    assert page.evaluate(active) == "totp_token"

    keys.type(totp.code_at(secret, erp.clock()))
    keys.press("Tab")  # the box "Ne plus demander…", left unticked
    assert page.evaluate(active) == "remember"
    keys.press("Tab")  # Connexion
    assert page.evaluate("document.activeElement.textContent.trim()") == "Connexion"
    press(page, "Enter")
    assert path_of(page) == "/web"


def test_voir_plus_opens_the_french_guide(make_erp, open_context):
    erp = make_erp("sqlite", addons=("auth_totp",))
    enable_totp(erp, "demo")
    context = open_context(erp)
    page = context.new_page()
    sign_in(page, "demo", USER_PASSWORD)
    assert path_of(page) == "/web/login/totp"
    with context.expect_page() as opened:
        page.get_by_role("link", name="Voir plus").click()
    guide = opened.value
    guide.wait_for_load_state()
    assert path_of(guide) == "/auth_totp/static/doc/guide-utilisateur.html"
    assert guide.evaluate("document.documentElement.lang") == "fr"
    assert "Authentification à deux facteurs" in guide.locator("h1").inner_text()
    assert "codes de récupération" in guide.locator("main").inner_text().lower()
    images = guide.locator("main img")
    assert images.count() >= 5
    broken = guide.evaluate(
        "Array.from(document.images).filter(i => !i.complete || !i.naturalWidth)"
        ".map(i => i.src)")
    assert broken == []
    # the half-signed-in session is still waiting for its code
    page.reload()
    assert path_of(page) == "/web/login/totp"
