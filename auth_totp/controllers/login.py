"""The second step of sign-in: ``/web/login/totp``, and the setup a policy forces.

::

    password right, user has 2FA  ->  half-signed-in session  ->  GET /web/login/totp
        trusted browser cookie valid for this user ?  ->  signed in
        else the form: totp_token (+ remember)  ->  POST
            throttle (account, then IP)  ->  wait ? refuse, say how long
            recovery code ?  ->  consume once (atomic)
            else the code    ->  res.users._totp_check (window, replay, atomic step)
            success: reset throttles, trust browser if asked, sign in (new session id)
                     (after a recovery code, with 2 or fewer left: a page says so)
            failure: count it, maybe start a wait, say what was wrong

    password right, no 2FA, the policy's deadline passed  ->  GET /web/login/totp/setup
        the QR code, the key, the code field (no second password prompt)
        POST: throttle like a code -> the code turns 2FA on (wizard consumed once,
              step recorded) -> recovery codes shown once, signed in (new session id)
        Annuler: POST /web/session/logout; any other page leads back here
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from auth_totp import policy, totp
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


#: this many recovery codes left, or fewer: Préférences and the sign-in say so
LOW_RECOVERY_CODES = 2


def recovery_left_text(request: Request, left: int) -> str:
    if left == 0:
        return request._("You have no recovery code left: make new ones now, in your "
                         "preferences.")
    if left == 1:
        return request._("You have only 1 recovery code left: make new ones in your "
                         "preferences.")
    return request._("You have only {n} recovery codes left: make new ones in your "
                     "preferences.", n=left)


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
            return self._without_code(request, user)
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

    def _without_code(self, request: Request, user) -> Response:
        """No code to ask (2FA is off): the setup the policy requires, else signed in."""
        if user._totp_setup_due():
            request.session["mfa_url"] = policy.SETUP_URL
            return request.redirect(policy.SETUP_URL)
        return request.finalize_sign_in(user)

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
            codes = request.env["auth_totp.recovery_code"]
            if codes.consume(user.id, code, now=now, ip=ip):
                self._audit(request, user.id, "recovery_used")
                signed_in = self._success(request, user, guard)
                left = codes.remaining(user.id)
                if left > LOW_RECOVERY_CODES:
                    return signed_in
                return request.render("auth_totp.recovery_low", {
                    "left_text": recovery_left_text(request, left),
                    "continue_url": signed_in.location})
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
