"""The shorter English run: install, turn 2FA on, sign in with a code.

The browser asks for English (``Accept-Language: en-US``) and the two users
chose English in their preferences. The screenshots ``doc/img/en-*`` of the
English guide come from here.
"""

from __future__ import annotations

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

pytestmark = pytest.mark.browser


def test_story_in_english(make_erp, open_context, same_pictures):
    erp = make_erp("sqlite")
    erp.clock.set(STORY_TIME)
    with erp.env() as env:
        env["res.users"].search([]).write({"lang": "en"})
    admin = open_context(erp, "en-US").new_page()
    user = open_context(erp, "en-US").new_page()

    sign_in(admin, "admin", ADMIN_PASSWORD)
    admin.get_by_role("link", name="Applications").click()
    shoot(admin, "en-applications")
    admin.locator("li.app[data-addon=auth_totp]").get_by_role("button", name="Install").click()
    admin.wait_for_load_state()
    assert "Installed" in admin.locator("li.app[data-addon=auth_totp]").inner_text()

    # signed in a moment ago: no password asked again before the QR code
    sign_in(user, "demo", USER_PASSWORD)
    open_user_menu(user, "Preferences")
    section = user.locator("#totp-section")
    assert section.get_by_role("heading").inner_text() == "Two-factor authentication"
    shoot(user, "en-preferences")
    section.get_by_role("link", name="Two-factor authentication").click()
    user.wait_for_load_state()
    assert path_of(user) == "/auth_totp/setup"
    shoot(user, "en-setup")
    uri = read_qr(user)
    assert uri.startswith("otpauth://totp/") and "issuer=" in uri
    secret = totp.from_base32(uri.split("secret=")[1].split("&")[0])
    user.fill("#totp_token", totp.code_at(secret, erp.clock()))
    press(user, "Enter")
    codes = user.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(CODE_RE.match(c.strip()) for c in codes)
    shoot(user, "en-recovery-codes")
    user.get_by_role("link", name="I have saved them").click()
    user.wait_for_load_state()
    assert "Two-factor authentication is on." in user.locator("#totp-section").inner_text()
    open_user_menu(user, "Sign out")

    erp.clock.advance(30)
    shoot(user, "en-login")
    sign_in(user, "demo", USER_PASSWORD)
    assert path_of(user) == "/web/login/totp"
    assert user.get_by_role("heading", level=1).inner_text() == "Two-factor authentication"
    assert user.get_by_placeholder("e.g. 123456").is_visible()
    shoot(user, "en-totp")
    learn_more = user.get_by_role("link", name="Learn more")
    assert learn_more.get_attribute("href") == "/auth_totp/static/doc/user-guide.html"
    guide = user.request.get(learn_more.get_attribute("href"))
    assert guide.ok and '<html lang="en">' in guide.text()
    user.fill("#totp_token", totp.code_at(secret, erp.clock()))
    user.get_by_role("button", name="Sign in").click()
    user.wait_for_load_state()
    assert path_of(user) == "/web"

    # Users shows who has 2FA, for the administrator's guide
    admin.goto("/web")
    admin.get_by_role("link", name="Users").click()
    assert admin.locator("tr[data-login=demo] .totp-state").inner_text() == "On"
    shoot(admin, "en-users")
