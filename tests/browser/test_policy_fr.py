"""The company policy in a real browser, in French (issue 11).

The administrator makes two-factor authentication required for all users with a grace
period of 0 from Paramètres; Marc (login ``demo``), who never turned it on, signs in,
lands on the setup, scans the QR code on his screen, types the code, sees his recovery
codes and reaches the home page. The screenshots ``doc/img/fr-policy-*`` and
``doc/img/fr-settings-*`` illustrate the administrator's guide and the user guide.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from auth_totp import totp
from tests.browser.conftest import STORY_TIME
from tests.browser.pages import CODE_RE, open_user_menu, path_of, read_qr, shoot, sign_in
from tests.support import ADMIN_PASSWORD, USER_PASSWORD

pytestmark = pytest.mark.browser

SETUP = "/web/login/totp/setup"


def test_required_for_all_with_no_grace_period(make_erp, open_context, same_pictures):
    erp = make_erp("sqlite", addons=("auth_totp",))
    erp.clock.set(STORY_TIME)
    admin = open_context(erp).new_page()
    user = open_context(erp).new_page()

    # -- the administrator: Paramètres, in the user menu -----------------------------------
    sign_in(admin, "admin", ADMIN_PASSWORD)
    assert path_of(admin) == "/web"
    open_user_menu(admin, "Paramètres")
    assert path_of(admin) == "/web/settings"
    section = admin.locator("#totp-settings")
    assert section.get_by_role("heading").inner_text() == "Authentification à deux facteurs"
    assert section.get_by_label("Facultative\u00a0: chaque utilisateur choisit").is_checked()
    section.get_by_label("Obligatoire pour tous les utilisateurs").check()
    section.get_by_label("Période de grâce, en heures").fill("0")
    shoot(admin, "fr-settings")
    section.get_by_role("button", name="Enregistrer").click()
    admin.wait_for_load_state()
    assert path_of(admin) == "/web/settings?message=saved"
    assert admin.locator("main [role=status]").inner_text() == "Les paramètres sont enregistrés."
    # the administrator has no 2FA either: from now on every page says so
    assert "obligatoire pour votre compte depuis le" in admin.locator("#totp-notice").inner_text()
    assert admin.locator("#totp-settings").get_by_label(
        "Obligatoire pour tous les utilisateurs").is_checked()

    # -- Marc signs in: the password, then the setup itself -------------------------------
    sign_in(user, "demo", USER_PASSWORD)
    assert path_of(user) == SETUP
    assert user.get_by_role("heading", level=1).inner_text() == "Authentification 2FA"
    assert user.locator("#totp-required").inner_text().startswith(
        "La double authentification est désormais obligatoire pour votre compte.")
    assert user.locator("input[type=password]").count() == 0  # no second password prompt
    shoot(user, "fr-policy-setup")
    # nowhere else to go: another page leads back here
    user.goto("/web/preferences")
    assert path_of(user) == SETUP
    # the QR code, read from the screen as the phone would, and the same key as text
    uri = read_qr(user)
    query = parse_qs(urlsplit(uri).query)
    secret = totp.from_base32(query["secret"][0])
    user.locator("details.manual-key > summary").click()
    assert user.locator("#totp-key").inner_text().replace(" ", "") == query["secret"][0]
    user.get_by_label("Puis saisir le code à 6 chiffres affiché par l'application").fill(
        totp.code_at(secret, erp.clock()))
    user.get_by_role("button", name="Activer").click()
    user.wait_for_load_state()

    # -- the recovery codes, once; then the home page ---------------------------------------
    codes = [li.strip() for li in user.locator("#recovery-codes li").all_inner_texts()]
    assert len(codes) == 10 and all(CODE_RE.match(c) for c in codes)
    user.get_by_role("link", name="Je les ai enregistrés").click()
    user.wait_for_load_state()
    assert path_of(user) == "/web"
    assert user.locator("#totp-notice").count() == 0

    # -- Utilisateurs: who has not turned it on yet -------------------------------------------
    admin.goto("/web/users")
    admin.get_by_role("link", name="Obligatoire, pas encore activée").click()
    admin.wait_for_load_state()
    assert path_of(admin) == "/web/users?totp=required"
    assert admin.locator("tr[name=user_row]").count() == 1  # the administrator alone
    assert "Obligatoire dès le 4 mars 2030" in admin.locator(
        "tr[data-login=admin] .totp-state").inner_text()
    admin.get_by_role("link", name="Tous").click()
    admin.wait_for_load_state()
    assert admin.locator("tr[data-login=demo] .totp-state").inner_text().strip() == "Activée"
    shoot(admin, "fr-policy-users")


def test_before_the_deadline_every_page_says_when(make_erp, open_context, same_pictures):
    erp = make_erp("sqlite", addons=("auth_totp",))
    erp.clock.set(STORY_TIME)
    with erp.server.environment() as env:
        env["res.users"]._totp_set_policy("all", 48, now=erp.clock(), actor_id=None, ip="cli")
    user = open_context(erp).new_page()
    sign_in(user, "demo", USER_PASSWORD)
    assert path_of(user) == "/web"  # before the deadline: as before
    notice = user.locator("#totp-notice")
    assert " ".join(notice.inner_text().split()) == (
        "La double authentification sera obligatoire pour votre compte à partir du "
        "6 mars 2030, 09:30:00. L'activer maintenant.")
    shoot(user, "fr-policy-notice")
    notice.get_by_role("link", name="L'activer maintenant.").click()
    user.wait_for_load_state()
    assert path_of(user) == "/auth_totp/setup"  # the password was typed just now
