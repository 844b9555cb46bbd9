"""Sign-in, sign-out and the identity re-check."""

from __future__ import annotations

import logging

from werkzeug.wrappers import Response

from erpcore.addons.base.models.res_users import MAX_LOGIN_LENGTH
from erpcore.http import Controller, Request, route
from erpcore.http.request import safe_redirect

_logger = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 4096


def wait_message(request: Request, seconds: int) -> str:
    return request._("Too many failed attempts. Try again in {seconds} seconds.",
                     seconds=seconds)


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
        check = request.env["res.users"]._sign_in_check(
            login, password, address=request.remote_addr, now=request.now,
            device=request.known_device(login))
        if check.throttled:
            values["error"] = request._(
                "Too many failed sign-ins. Try again in {seconds} seconds.", seconds=check.wait)
            values["throttled"] = True
            return None
        if not check.user:
            _logger.info("sign-in failed from %s", request.remote_addr or "?")
            values["error"] = request._("Wrong login or password.")
            return None
        return self._after_password(request, check.user, values["redirect"])

    def _after_password(self, request: Request, user, redirect: str) -> Response:
        """The password was right: ask the second factor, or sign in."""
        mfa_url = user._mfa_url()
        if mfa_url:
            _logger.info("user %s: password accepted, second factor pending", user.id)
            return request.start_mfa(user.id, mfa_url, redirect)
        return request.finalize_sign_in(user, redirect)

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
            check = request.env.user._check_identity(password, now=request.now)
            if check.user:
                request.session["identity_checked_at"] = request.now
                return request.redirect(redirect)
            values["error"] = wait_message(request, check.wait) if check.throttled \
                else request._("Wrong password.")
        return request.render("web.identity", values)
