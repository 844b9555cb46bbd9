"""The company policy: its section of Paramètres, and the setup it forces at sign-in.

::

    Paramètres (administrators)  ->  POST /auth_totp/settings (password re-check)
        level and grace period checked  ->  res.users._totp_set_policy
        (grace periods start for the users newly covered; audit event naming who)

    password right, no 2FA, deadline passed  ->  GET /web/login/totp/setup (mfa=True)
        a new activation wizard: QR code, key, code field
        POST: throttle (as sign-in codes)  ->  res.users._totp_enable (wizard consumed
              once, step recorded)  ->  other sessions ended, signed in, codes shown once
        wrong code: counted, the same QR code again; expired wizard: a new one
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from auth_totp import policy
from auth_totp.controllers.login import code_guard
from auth_totp.settings import GRACE_HOURS, POLICY
from erpcore.addons.web.controllers.settings import Settings
from erpcore.http import Controller, Request, route
from erpcore.settings import SettingError

#: the longest grace period the form takes as typed
MAX_FIELD_LENGTH = 12


class TotpSettings(Settings):
    def _values(self, request: Request, **values: object) -> dict:
        result = super()._values(request, **values)
        env = request.env
        result.setdefault("totp_policy", {
            "level": env.setting(POLICY.key),
            "grace_hours": str(env.setting(GRACE_HOURS.key)),
        })
        result.setdefault("totp_error", None)
        return result

    @route("/auth_totp/settings", auth="user", methods=["POST"], identity=True)
    def save_policy(self, request: Request) -> Response:
        request.env.check_admin()
        form = request.httprequest.form
        level = form.get("policy", "")[:MAX_FIELD_LENGTH]
        grace = form.get("grace_hours", "")[:MAX_FIELD_LENGTH]
        error = None
        if level not in policy.LEVELS:
            error = request._("Choose who must use two-factor authentication.")
        else:
            try:
                request.env["res.users"]._totp_set_policy(
                    level, GRACE_HOURS.parse(grace), now=request.now,
                    actor_id=request.env.uid, ip=request.remote_addr)
            except SettingError:
                error = request._("The grace period is a whole number of hours, from 0 "
                                  "to {max}.", max=GRACE_HOURS.maximum)
        if error:
            return request.render("web.settings", self._values(
                request, totp_error=error,
                totp_policy={"level": level, "grace_hours": grace}), status=400)
        return request.redirect_query("/web/settings", message="saved")


class TotpRequiredSetup(Controller):
    @route(policy.SETUP_URL, auth="public", methods=["GET", "POST"], mfa=True)
    def required_setup(self, request: Request) -> Response:
        uid = request.session.pre_uid
        if not uid:
            return request.redirect("/web" if request.session.uid else "/web/login")
        user = request.env["res.users"].sudo().browse(uid)
        if user.totp_enabled:  # turned on meanwhile (another window): a code is due
            return self._to_code_page(request)
        if not user._totp_setup_due():  # the policy changed meanwhile
            return request.finalize_sign_in(user)
        wizards = request.env["auth_totp.wizard"]
        if request.httprequest.method == "GET":
            return self._page(request, wizards.start(uid, request.now))
        wizard_id = request.httprequest.form.get("wizard_id", "")
        wizard = wizards.owned_by(int(wizard_id), uid) \
            if wizard_id.isdecimal() and len(wizard_id) < 12 else wizards.browse()
        if not wizard or wizard.expired(request.now):
            return self._page(request, wizards.start(uid, request.now), request._(
                "This QR code has expired. Scan the new one, then type the code."), 400)
        return self._activate(request, user, wizard)

    def _activate(self, request: Request, user, wizard) -> Response:
        conn = request.env.conn
        guard = code_guard(user.id, request.remote_addr, request.now)
        wait = guard.admit(conn)
        if wait:
            return self._page(request, wizard, request._(
                "Too many attempts. Try again in {seconds} seconds.", seconds=wait), 429)
        enabled = user._totp_enable(wizard, request.httprequest.form.get("totp_token", ""),
                                    request.now)
        if enabled is None:  # a parallel submission of this form turned 2FA on
            return self._to_code_page(request)
        if not enabled:
            error = request._("This code is not the one your app shows for this key. Check "
                              "the key and type the 6 digits your app shows now.")
            wait = guard.failed(conn)
            if wait:
                error += " " + request._("Too many attempts. Try again in {seconds} seconds.",
                                         seconds=wait)
            return self._page(request, wizard, error, 401)
        guard.succeeded(conn)
        request.env["auth_totp.event"].record(
            user.id, "enabled", now=request.now, ip=request.remote_addr,
            detail="at sign-in, required by the policy")
        codes = request.env["auth_totp.recovery_code"].generate(user.id)
        target = request.finalize_sign_in(user).location
        # a session that signed in with the password alone must not outlive this
        request.end_other_sessions()
        return request.render("auth_totp.recovery_codes", {
            "codes": codes, "done_url": target,
            "download": "data:text/plain;charset=utf-8," + "%0A".join(codes),
        })

    def _page(self, request: Request, wizard, error: str | None = None,
              status: int = 200) -> Response:
        return request.render("auth_totp.setup", {
            "wizard": wizard, "error": error, "required": True, "action": policy.SETUP_URL,
        }, status=status)

    def _to_code_page(self, request: Request) -> Response:
        request.session["mfa_url"] = "/web/login/totp"
        return request.redirect("/web/login/totp")
