"""The second step of sign-in: ``/web/login/totp``.

::

    password right, user has 2FA  ->  half-signed-in session  ->  GET /web/login/totp
        trusted browser cookie valid for this user ?  ->  signed in
        else the form: totp_token (+ remember)  ->  POST
            throttle (account, then IP)  ->  wait ? refuse, say how long
            recovery code ?  ->  consume once (atomic)
            else the code    ->  res.users._totp_check (window, replay, atomic step)
            success: reset throttles, trust browser if asked, sign in (new session id)
            failure: count it, maybe start a wait, say what was wrong
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from auth_totp import totp
from auth_totp.models.auth_totp_device import COOKIE
from auth_totp.models.auth_totp_recovery_code import normalize as normalize_recovery
from auth_totp.models.res_users import Verdict
from erpcore.http import Controller, Request, route
from erpcore.throttle import Guard, Limit, throttle_key

#: per account, whatever the session, IP or worker: 5 tries, then 30 s doubling up to 1 h
ACCOUNT_LIMIT = Limit(max_failures=5, base_wait=30, growth=2, max_wait=3600)
#: per client address, across accounts (lenient: an office shares its address)
ADDRESS_LIMIT = Limit(max_failures=20, base_wait=60, growth=2, max_wait=3600)


def code_guard(uid: int, address: str, now: float) -> Guard:
    """The counters a code (or a recovery code) of user *uid* is judged by."""
    return Guard(now, strict=[(ACCOUNT_LIMIT, throttle_key("totp", uid=uid))],
                 lenient=[(ADDRESS_LIMIT, throttle_key("totp", address=address))])


def drift_message(request: Request, steps: int) -> str:
    seconds = abs(steps) * totp.PERIOD
    amount = (request._("{n} minutes", n=round(seconds / 60)) if seconds >= 120
              else request._("{n} seconds", n=seconds))
    if steps > 0:
        return request._("This code is not valid now: your device's clock seems to be about "
                         "{amount} ahead. Set it to the automatic time, then try again.",
                         amount=amount)
    return request._("This code is not valid now: your device's clock seems to be about "
                     "{amount} behind. Set it to the automatic time, then try again.",
                     amount=amount)


def trusted_days(request: Request) -> int:
    """How long a trusted browser skips the code; 0: browsers are never trusted."""
    return request.env.setting("auth_totp.trusted_device_days")


class TotpLogin(Controller):
    @route("/web/login/totp", auth="public", methods=["GET", "POST"], mfa=True)
    def login_totp(self, request: Request) -> Response:
        uid = request.session.pre_uid
        if not uid:
            return request.redirect("/web" if request.session.uid else "/web/login")
        user = request.env["res.users"].sudo().browse(uid)
        if not user.totp_enabled:  # switched off by an administrator meanwhile
            return request.finalize_sign_in(user)
        recovery = request.params.get("mode") == "recovery"
        if request.httprequest.method == "GET":
            token = request.httprequest.cookies.get(COOKIE)
            device = request.env["auth_totp.device"].find(uid, token, request.now) \
                if trusted_days(request) else None
            if device:
                device.touch(request.now)
                self._audit(request, uid, "device_used")
                return request.finalize_sign_in(user)
            return self._form(request, recovery=recovery)
        return self._verify(request, user, recovery)

    def _form(self, request: Request, *, recovery: bool, error: str | None = None,
              status: int = 200) -> Response:
        days = trusted_days(request)
        return request.render("auth_totp.login_totp", {
            "error": error, "recovery": recovery,
            "remember_label": request._("Don't ask again on this browser for {days} days",
                                        days=days) if days else "",
        }, status=status)

    def _verify(self, request: Request, user, recovery: bool) -> Response:
        conn, now, ip = request.env.conn, request.now, request.remote_addr
        code = request.httprequest.form.get("totp_token", "")
        recovery = recovery or (totp.normalize(code) is None and bool(normalize_recovery(code)))
        if not recovery and user._totp_unavailable():
            # not the user's fault, and not a guess: nothing is counted
            return self._form(request, recovery=False, status=503, error=request._(
                "Your code cannot be checked right now. Sign in with one of your recovery "
                "codes, or ask your administrator."))
        guard = code_guard(user.id, ip, now)
        wait = guard.admit(conn)
        if wait:
            return self._form(request, recovery=recovery, status=429, error=request._(
                "Too many attempts. Try again in {seconds} seconds.", seconds=wait))
        if recovery:
            if request.env["auth_totp.recovery_code"].consume(user.id, code, now=now, ip=ip):
                self._audit(request, user.id, "recovery_used")
                return self._success(request, user, guard)
            error, event = request._("This recovery code is not valid or was already used."), \
                "failure"
        else:
            check = user._totp_check(code, now)
            if check.verdict is Verdict.ACCEPTED:
                self._audit(request, user.id, "success")
                return self._success(request, user, guard)
            error, event = {
                Verdict.MALFORMED: (request._("The code is made of 6 digits."), "failure"),
                Verdict.WRONG: (request._("Wrong authentication code."), "failure"),
                Verdict.REUSED: (request._(
                    "This code was already used. Wait for the next code of your app."), "reuse"),
                Verdict.DRIFT: (drift_message(request, check.drift_steps), "failure"),
            }[check.verdict]
        self._audit(request, user.id, event, detail="recovery" if recovery else "")
        wait = guard.failed(conn)
        if wait:
            self._audit(request, user.id, "lockout", detail=f"{wait} s")
            error += " " + request._("Too many attempts. Try again in {seconds} seconds.",
                                     seconds=wait)
        return self._form(request, recovery=recovery, error=error, status=401)

    def _success(self, request: Request, user, guard: Guard) -> Response:
        guard.succeeded(request.env.conn)
        days = trusted_days(request)
        if days and request.httprequest.form.get("remember") == "1":
            lifetime = days * 86400
            token = request.env["auth_totp.device"].trust(
                user.id, user_agent=request.httprequest.user_agent.string,
                ip=request.remote_addr, now=request.now, lifetime=lifetime)
            request.set_cookie(COOKIE, token, max_age=lifetime)
            self._audit(request, user.id, "device_trusted")
        return request.finalize_sign_in(user)

    def _audit(self, request: Request, uid: int, event: str, detail: str = "") -> None:
        request.env["auth_totp.event"].record(uid, event, now=request.now,
                                             ip=request.remote_addr, detail=detail)
