"""Device cookies: the browsers that signed in to a login before (OWASP).

A stranger guessing passwords must not keep the owner out. The sign-in
throttle therefore tells two kinds of browsers apart: those that once
finished a sign-in to a login, which carry proof of it in the ``device``
cookie, and every other one. Failures from unknown browsers share the
login's limit; a known browser is judged by its own failures only.

The cookie holds up to :data:`MAX_ENTRIES` entries, one per login signed in
from this browser (most recent first), each ``NONCE.MAC``: a random nonce and
an HMAC of the nonce and the login with a key derived from the server's
keyring. The login itself is not in the cookie, and an entry proves nothing
for another login; the nonce names the browser's own throttle counter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

COOKIE = "device"
#: entries kept, one per login signed in from this browser
MAX_ENTRIES = 5
#: a browser stays known this long after its last sign-in
LIFETIME = 365 * 86400

_ENTRY = re.compile(r"^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$")


def _mac(key: bytes, nonce: str, login: str) -> str:
    message = f"{nonce}|{login.strip().lower()}".encode("utf-8", "replace")
    digest = hmac.new(key, message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _entries(cookie: str | None) -> list[tuple[str, str]]:
    if not cookie or len(cookie) > 64 * MAX_ENTRIES:
        return []
    return [tuple(entry.split(".")) for entry in cookie.split("~") if _ENTRY.match(entry)]


def known_device(key: bytes, cookie: str | None, login: str) -> str | None:
    """The nonce of the entry of *cookie* proving a past sign-in to *login*, or None."""
    for nonce, mac in _entries(cookie):
        if hmac.compare_digest(mac, _mac(key, nonce, login)):
            return nonce
    return None


def remember(key: bytes, cookie: str | None, login: str) -> str:
    """The cookie's new value once *login* signed in: its entry first, then the others."""
    nonce = known_device(key, cookie, login)
    if nonce is None:
        nonce = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
    entry = f"{nonce}.{_mac(key, nonce, login)}"
    others = [f"{n}.{m}" for n, m in _entries(cookie) if n != nonce]
    return "~".join([entry, *others][:MAX_ENTRIES])
