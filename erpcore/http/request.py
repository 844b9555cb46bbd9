"""The request object handed to every controller method.

It is passed explicitly (``def index(self, request): ...``): there is no
global request. It gives the environment, the session, the form, the
clock, and helpers to render a template, redirect, and sign a user in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.utils import redirect as _redirect
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response

from erpcore.http import devices
from erpcore.http.session import Session, end_sessions

if TYPE_CHECKING:
    from erpcore.orm.environment import Environment
    from erpcore.orm.models import BaseModel
    from erpcore.registry import Registry
    from erpcore.server import Server

_logger = logging.getLogger(__name__)


#: longer than any IP address written out (an IPv6 one with a zone, 45 + 19)
MAX_ADDRESS_LENGTH = 64


@functools.lru_cache(maxsize=4096)  # the same few clients, request after request
def _address(text: str) -> str:
    """*text* as an IP address in its canonical form; "" when it is not one."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


class Request:
    def __init__(self, httprequest: WerkzeugRequest, server: Server, registry: Registry,
                 env: Environment, session: Session, now: float):
        self.httprequest = httprequest
        self.server = server
        self.registry = registry
        self.env = env
        self.session = session
        #: the time of this request (injected clock); use it, not time.time()
        self.now = now
        #: cookies to set on the response, as (name, value, max_age) triples
        self.cookies: list[tuple[str, str, int | None]] = []
        self._after_commit: list[Callable[[], None]] = []

    # -- input -----------------------------------------------------------------

    @property
    def params(self) -> CombinedMultiDict:
        """Form and query string, the form winning."""
        return CombinedMultiDict([self.httprequest.form, self.httprequest.args])

    @property
    def remote_addr(self) -> str:
        """The client's IP address, or "" when what the socket or proxy gave is not one.

        It keys throttles and is stored in audit rows, so it must be an address:
        behind a misconfigured proxy ``X-Forwarded-For`` can hold any text (a NUL
        byte, which PostgreSQL refuses, or a fresh string per request).
        """
        text = self.httprequest.remote_addr or ""
        # no address is this long: a stranger's text is refused before it is kept
        return _address(text) if len(text) <= MAX_ADDRESS_LENGTH else ""

    @property
    def is_secure(self) -> bool:
        return self.httprequest.scheme == "https"

    @property
    def lang(self) -> str:
        return self.env.lang

    def _(self, message: str, **params: Any) -> str:
        return self.env._(message, **params)

    # -- CSRF ------------------------------------------------------------------

    def csrf_token(self) -> str:
        """A token bound to this session: a new session id gives a new token."""
        key = self.registry.keyring.derive("csrf")
        secret = self.session.csrf_secret()
        return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()

    def validate_csrf(self, token: str | None) -> bool:
        if not token or "csrf_secret" not in self.session:
            return False
        return hmac.compare_digest(token.encode("utf-8", "replace"), self.csrf_token().encode())

    # -- output ----------------------------------------------------------------

    def render(self, template: str, values: dict[str, Any] | None = None,
               status: int = 200) -> Response:
        context = {
            "request": self,
            "env": self.env,
            "user": self.env.user if self.session.uid else None,
            "_": self._,
            "csrf_token": self.csrf_token(),
            "lang": self.lang,
            "company_name": self.company_name(),
            "format_datetime": self.format_datetime,
        }
        context.update(values or {})
        html = self.registry.render(template, context, self.lang)
        return Response("<!DOCTYPE html>\n" + str(html), status=status, mimetype="text/html")

    def format_datetime(self, value: dt.datetime | None, format: str = "medium") -> str:  # noqa: A002
        """A stored (naive UTC) datetime in the user's time zone and language."""
        if not value:
            return ""
        tz = (self.env(su=True).user.tz if self.session.uid else None) or "UTC"
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return format_datetime(value.replace(tzinfo=dt.UTC), format, tzinfo=zone,
                               locale=self.lang)

    def redirect(self, location: str, code: int = 303) -> Response:
        return _redirect(location, code)

    def redirect_query(self, path: str, **query: str) -> Response:
        query = {k: v for k, v in query.items() if v}
        return self.redirect(f"{path}?{urlencode(query)}" if query else path)

    def set_cookie(self, name: str, value: str, max_age: int | None) -> None:
        self.cookies.append((name, value, max_age))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call *callback* once the request's work is committed (not if it is rolled back)."""
        self._after_commit.append(callback)

    def run_after_commit(self) -> None:
        for callback in self._after_commit:
            try:
                callback()
            except Exception:  # the request's work stands: report, do not fail it
                _logger.exception("after-commit task failed")

    def company_name(self) -> str:
        return self.env.setting("base.company_name") or "erpcore"

    # -- signing in --------------------------------------------------------------

    def known_device(self, login: str) -> str | None:
        """The id of this browser's proof of a past sign-in to *login* (a device cookie)."""
        key = self.registry.keyring.derive("device")
        return devices.known_device(key, self.httprequest.cookies.get(devices.COOKIE), login)

    def start_mfa(self, uid: int, mfa_url: str, redirect: str = "") -> Response:
        """Half-sign *uid* in: the password was right, a second factor is due at *mfa_url*."""
        self.session.clear(fresh=True)
        self.session["pre_uid"] = uid
        self.session["pre_login_at"] = self.now
        self.session["mfa_url"] = mfa_url
        self.session["identity_checked_at"] = self.now
        self.session["redirect"] = redirect
        return self.redirect(mfa_url)

    def finalize_sign_in(self, user: BaseModel, redirect: str | None = None) -> Response:
        """Sign *user* in fully, every factor done: the one way a sign-in ends.

        Records the sign-in on the user (:meth:`res.users._login_values`, one
        write), gives the session a new id, marks this browser as one that
        signed in to this login (:mod:`erpcore.http.devices`), and goes to
        *redirect*, else where the sign-in was headed when it began.
        """
        user = user.sudo()
        user.write(user._login_values(self.now))
        session = self.session
        target = redirect if redirect is not None else session.get("redirect")
        checked = session.get("identity_checked_at", self.now)
        # straight from the password: fresh; after a second factor, the half-signed-in
        # session must still exist (a password reset meanwhile has ended it)
        session.clear(fresh=not session.pre_uid)
        session["uid"] = user.id
        session["login_at"] = self.now
        session["identity_checked_at"] = checked
        key = self.registry.keyring.derive("device")
        cookie = devices.remember(key, self.httprequest.cookies.get(devices.COOKIE), user.login)
        self.set_cookie(devices.COOKIE, cookie, max_age=devices.LIFETIME)
        self.env = self.env(uid=user.id, su=False)
        _logger.info("user %s signed in", user.id)
        return self.redirect(safe_redirect(target))

    def end_other_sessions(self) -> None:
        """Sign the current user out everywhere but here, and give this session a new id.

        For a change that password-only sessions must not outlive: a second
        factor turned on, new recovery codes.
        """
        end_sessions(self.env.conn, [self.session.uid], keep=self.session)
        self.session.rotate()

    def logout(self) -> None:
        self.session.clear()

    def identity_is_fresh(self) -> bool:
        checked = self.session.get("identity_checked_at") or 0
        return self.now - checked <= self.server.config.identity_check_lifetime


def safe_redirect(target: str | None, default: str = "/web") -> str:
    """*target* if it is a path on this site, else *default* (no open redirect)."""
    if not target or len(target) > 2000:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target
