"""Sign-in, sign-out and the identity re-check."""

from __future__ import annotations

import logging

from werkzeug.wrappers import Response

from erpcore.addons.base.models.res_users import MAX_LOGIN_LENGTH
from erpcore.http import Controller, Request, route
from erpcore.http.request import safe_redirect
from erpcore.throttle import Throttle, throttle_key

_logger = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 4096


def login_throttle(request: Request) -> Throttle:
    config = request.server.config
    return Throttle(config.login_max_failures, config.login_lockout)


class Session(Controller):
    @route("/web/login", auth="public", methods=["GET", "POST"])
    def login(self, request: Request, **kw: str) -> Response:
        if request.session.uid:
            return request.redirect(safe_redirect(request.params.get("redirect")))
        values = {"login": "", "redirect": safe_redirect(request.params.get("redirect"), ""),
                  "error": None, "info": None}
        if request.params.get("error") == "expired":
            values["error"] = request._("Your sign-in took too long. Please sign in again.")
        if request.httprequest.method == "POST":
            response = self._do_login(request, values)
            if response is not None:
                return response
        return request.render("web.login", values,
                              status=429 if values.get("throttled") else 200)

    def _do_login(self, request: Request, values: dict) -> Response | None:
        form = request.httprequest.form
        login = form.get("login", "")[:MAX_FIELD_LENGTH]
        password = form.get("password", "")[:MAX_FIELD_LENGTH]
        values["login"] = login[:MAX_LOGIN_LENGTH]
        if not login or not password:
            values["error"] = request._("Enter your login and password.")
            return None
        if len(login) > MAX_LOGIN_LENGTH:
            # no account has such a login: refused as wrong, without writing anything
            values["error"] = request._("Wrong login or password.")
            return None
        conn = request.env.conn
        throttle = login_throttle(request)
        account = throttle_key("login", login)
        address = throttle_key("login-ip", request.remote_addr)
        # the account is counted before the hash (strict); the address, shared by an
        # office behind one NAT address, only after it, so its sign-ins do not queue
        wait = max(throttle.remaining(conn, key, request.now) for key in (account, address))
        wait = wait or throttle.attempt(conn, account, request.now)
        if wait:
            values["error"] = request._(
                "Too many failed sign-ins. Try again in {seconds} seconds.", seconds=wait)
            values["throttled"] = True
            return None
        user = request.env["res.users"]._authenticate(login, password)
        if not user:
            throttle.failure(conn, account, request.now)
            throttle.count_failure(conn, address, request.now)
            _logger.info("sign-in failed from %s", request.remote_addr)
            values["error"] = request._("Wrong login or password.")
            return None
        throttle.success(conn, account)
        throttle.success(conn, address)
        return self._after_password(request, user, values["redirect"])

    def _after_password(self, request: Request, user, redirect: str) -> Response:
        """The password was right: ask the second factor, or sign in."""
        mfa_url = user._mfa_url()
        if mfa_url:
            request.session["redirect"] = redirect
            _logger.info("user %s: password accepted, second factor pending", user.id)
            return request.start_mfa(user.id, mfa_url)
        user._on_login(request.now)
        _logger.info("user %s signed in", user.id)
        return request.finish_login(user.id, redirect)

    @route("/web/session/logout", auth="public", methods=["GET", "POST"], mfa=True)
    def logout(self, request: Request) -> Response:
        if request.httprequest.method == "GET":
            if not (request.session.uid or request.session.pre_uid):
                return request.redirect("/web/login")
            return request.render("web.logout")
        uid = request.session.uid or request.session.pre_uid
        request.logout()
        if uid:
            _logger.info("user %s signed out", uid)
        return request.redirect("/web/login")

    @route("/web/identity", auth="user", methods=["GET", "POST"])
    def identity(self, request: Request) -> Response:
        """Ask the password again before a sensitive action."""
        redirect = safe_redirect(request.params.get("redirect"), "/web/preferences")
        values = {"redirect": redirect, "error": None}
        if request.httprequest.method == "POST":
            password = request.httprequest.form.get("password", "")[:MAX_FIELD_LENGTH]
            user = request.env.user
            throttle = login_throttle(request)
            key = throttle_key("identity", str(user.id))
            wait = throttle.attempt(request.env.conn, key, request.now)
            if wait:
                values["error"] = request._(
                    "Too many failed attempts. Try again in {seconds} seconds.", seconds=wait)
            elif user._check_password(password):
                throttle.success(request.env.conn, key)
                request.session["identity_checked_at"] = request.now
                return request.redirect(redirect)
            else:
                throttle.failure(request.env.conn, key, request.now)
                values["error"] = request._("Wrong password.")
        return request.render("web.identity", values)
