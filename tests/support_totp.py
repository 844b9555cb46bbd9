"""Helpers for tests of two-factor authentication (auth_totp)."""

from __future__ import annotations

import html
import re

from auth_totp import totp
from tests.support import Client

CODES_RE = re.compile(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>")
KEY_RE = re.compile(r'id="totp-key">([A-Z2-7 ]+)<')
WIZARD_RE = re.compile(r'name="wizard_id" value="(\d+)"')
ERROR_RE = re.compile(r'role="alert"[^>]*>([^<]+)<')


def enable_totp(erp, login: str) -> bytes:
    """Turn 2FA on for *login* directly through the models; returns the secret."""
    with erp.server.environment() as env:
        user = env["res.users"].search([("login", "=", login)])
        # enable with a code of the previous step, so the current one is still usable
        now = erp.clock() - totp.PERIOD
        wizard = env["auth_totp.wizard"].start(user.id, now)
        secret = totp.from_base32(wizard.secret)
        assert user._totp_enable(wizard, totp.code_at(secret, now), now)
        env["auth_totp.recovery_code"].generate(user.id)
    return secret


GENERATION_RE = re.compile(r'name="generation" value="(\d+)"')


def regenerate(client: Client, **kw):
    """Press New recovery codes on Préférences (the form names the codes it replaces)."""
    page = client.get("/web/preferences")
    generation = GENERATION_RE.search(page.text).group(1)
    return client.post("/auth_totp/recovery/regenerate", {"generation": generation},
                       csrf=client.csrf(), **kw)


def recovery_codes_for(erp, login: str) -> list[str]:
    """Replace *login*'s recovery codes and return the new ones."""
    with erp.server.environment() as env:
        user = env["res.users"].search([("login", "=", login)])
        return env["auth_totp.recovery_code"].generate(user.id)


def code(secret: bytes, erp, steps: int = 0) -> str:
    """The code of the server's current step, shifted by *steps*."""
    return totp.code_at(secret, erp.clock() + steps * totp.PERIOD)


def password_step(client: Client, login: str, password: str):
    """Sign in with the password; the client is left on the second-factor page."""
    response = client.login(login, password)
    assert client.path().startswith("/web/login/totp"), client.path()
    return response


def submit_code(client: Client, value: str, remember: bool = False, csrf: str | None = None,
                **extra):
    """Post *value* on the code page (with the page's CSRF token, or *csrf*)."""
    data = {"totp_token": value, **extra}
    if remember:
        data["remember"] = "1"
    if csrf is not None:
        return client.post("/web/login/totp", data, csrf=csrf)
    return client.post("/web/login/totp", data, from_page="/web/login/totp")


def error_text(response) -> str:
    match = ERROR_RE.search(response.text)
    return html.unescape(match.group(1)) if match else ""


def activate_through_pages(client: Client, erp, password: str) -> tuple[bytes, list[str]]:
    """Activate 2FA as a user does: setup page (re-check if asked), first code.

    Returns the secret read from the page and the recovery codes shown.
    """
    page = client.get("/auth_totp/setup")
    if client.path().startswith("/web/identity"):
        page = client.post("/web/identity", {"password": password,
                                             "redirect": "/auth_totp/setup"})
    key = KEY_RE.search(page.text).group(1).replace(" ", "")
    wizard_id = WIZARD_RE.search(page.text).group(1)
    secret = totp.from_base32(key)
    done = client.post("/auth_totp/setup", {"wizard_id": wizard_id,
                                             "totp_token": code(secret, erp)})
    codes = CODES_RE.findall(done.text)
    assert len(codes) == 10, done.text[:2000]
    return secret, codes
