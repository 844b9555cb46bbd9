"""Trusted browsers: a browser that passed the second factor may skip it for a while.

The browser keeps a random 256-bit token in the ``td_id`` cookie; the
database keeps its SHA-256, the user it belongs to, and an expiry. A token
only counts for its own user, so a cookie moved to another account (or
altered, or forged) leads to the code page. Every trusted browser of a user
is revoked when their password changes and when 2FA is turned off.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from erpcore.orm import Model, fields

COOKIE = "td_id"

_BROWSERS = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari")]
_SYSTEMS = [("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux")]


def describe_user_agent(user_agent: str) -> tuple[str, str]:
    """(browser, system) named from a User-Agent header, for the list of trusted browsers."""
    user_agent = user_agent[:512]
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    if "HeadlessChrome/" in user_agent:
        browser = "Chrome"
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    return browser or "?", system or "?"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class AuthTotpDevice(Model):
    _name = "auth_totp.device"
    _description = "Trusted browser"
    _order = "last_used desc"

    user_id = fields.Many2one("res.users", "User", ondelete="CASCADE", required=True)
    token_hash = fields.Char("Token hash", size=64, required=True, index=True, secret=True)
    browser = fields.Char("Browser", size=64)
    system = fields.Char("System", size=64)
    ip = fields.Char("IP address", size=64)
    create_date = fields.Datetime("Trusted on")
    last_used = fields.Datetime("Last used")
    expires_at = fields.Datetime("Expires")

    def trust(self, user_id: int, *, user_agent: str, ip: str, now: float,
              lifetime: int) -> str:
        """Trust the current browser of *user_id*; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        browser, system = describe_user_agent(user_agent)
        self.sudo().create({
            "user_id": user_id, "token_hash": _hash(token), "browser": browser,
            "system": system, "ip": ip[:64], "create_date": now,
            "last_used": now, "expires_at": now + lifetime,
        })
        return token

    def find(self, user_id: int, token: str | None, now: float) -> AuthTotpDevice:
        """The unexpired device of *user_id* holding *token*, or an empty recordset."""
        devices = self.sudo()
        if not token or not _TOKEN_RE.match(token):
            return devices.browse()
        return devices.search([("user_id", "=", user_id), ("token_hash", "=", _hash(token)),
                               ("expires_at", ">", now)], limit=1)

    def touch(self, now: float) -> None:
        self.sudo().write({"last_used": now})

    def display_name(self) -> str:
        return self.env._("{browser} on {system}", browser=self.browser, system=self.system)
