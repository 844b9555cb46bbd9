"""Préférences: turning 2FA on and off, changing the authenticator, recovery codes,
trusted browsers.

Every change but activation asks for the password again when the last
check is older than ten minutes (``identity=True``); activation and the
change of authenticator are reached through their setup page, which asks
for it. A user the policy requires 2FA of cannot turn it off.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from auth_totp.controllers.login import ACCOUNT_LIMIT, LOW_RECOVERY_CODES, recovery_left_text
from erpcore.addons.web.controllers.preferences import Preferences
from erpcore.http import Request, route
from erpcore.throttle import Guard, throttle_key


def setup_guard(uid: int, now: float) -> Guard:
    """The first code of an activation is throttled like the codes of sign-in."""
    return Guard(now, strict=[(ACCOUNT_LIMIT, throttle_key("totp-setup", uid=uid))])


class TotpPreferences(Preferences):
    def _values(self, request: Request, **values: object) -> dict:
        result = super()._values(request, **values)
        user = request.env.user.sudo()
        left = request.env["auth_totp.recovery_code"].remaining(user.id)
        result["totp"] = {
            "enabled": user.totp_enabled,
            "recovery_left": left,
            "recovery_left_text": request._("Recovery codes left: {n} of 10.", n=left),
            "recovery_low_text": recovery_left_text(request, left)
            if user.totp_enabled and left <= LOW_RECOVERY_CODES else "",
            "recovery_generation": user.totp_recovery_generation,
            "devices": request.env["auth_totp.device"].sudo().search(
                [("user_id", "=", user.id)]),
            "required": user._totp_required(),
            "error": values.get("totp_error"),
        }
        return result

    # -- activation --------------------------------------------------------------

    @route("/auth_totp/setup", auth="user", methods=["GET"], identity=True)
    def setup(self, request: Request) -> Response:
        if request.env.user.totp_enabled:
            return request.redirect("/web/preferences")
        wizard = request.env["auth_totp.wizard"].start(request.env.uid, request.now)
        return self._setup_page(request, wizard)

    def _setup_page(self, request: Request, wizard, error: str | None = None,
                    status: int = 200, *, change: bool = False) -> Response:
        return request.render("auth_totp.setup", {
            "wizard": wizard, "error": error, "change": change,
            "action": "/auth_totp/change" if change else "/auth_totp/setup",
        }, status=status)

    def _posted_wizard(self, request: Request):
        """The unexpired wizard of the current user the form names, else an empty one."""
        wizard_id = request.httprequest.form.get("wizard_id", "")
        wizards = request.env["auth_totp.wizard"]
        wizard = wizards.owned_by(int(wizard_id), request.env.uid) if wizard_id.isdecimal() \
            and len(wizard_id) < 12 else wizards.browse()
        if wizard and wizard.expired(request.now):
            wizard.unlink()
            return wizards.browse()
        return wizard

    def _first_code(self, request: Request, wizard, apply, *, change: bool = False):
        """Check the first code of *wizard* with *apply* (throttled): its outcome, or the
        page refusing it."""
        guard = setup_guard(request.env.uid, request.now)
        wait = guard.admit(request.env.conn)
        if wait:
            return self._setup_page(request, wizard, request._(
                "Too many attempts. Try again in {seconds} seconds.", seconds=wait), 429,
                change=change)
        done = apply(wizard, request.httprequest.form.get("totp_token", ""), request.now)
        if done is False:
            guard.failed(request.env.conn)
            return self._setup_page(request, wizard, request._(
                "This code is not the one your app shows for this key. Check the key and "
                "type the 6 digits your app shows now."), 400, change=change)
        if done:
            guard.succeeded(request.env.conn)
        return done

    @route("/auth_totp/setup", auth="user", methods=["POST"])
    def activate(self, request: Request) -> Response:
        user = request.env.user
        wizard = self._posted_wizard(request)
        if not wizard:
            request.env.invalidate(user)  # read anew: a parallel submission may have won
            if user.totp_enabled:  # this form, sent twice: the first one turned 2FA on
                return self._already_done(request)
            return request.render("auth_totp.setup_expired", status=400)
        if user.totp_enabled:
            return self._already_done(request)
        enabled = self._first_code(request, wizard, user._totp_enable)
        if isinstance(enabled, Response):
            return enabled
        if enabled is None:  # a parallel submission of this very form turned 2FA on
            return self._already_done(request)
        self._audit(request, "enabled")
        # a session that signed in with the password alone must not outlive this
        request.end_other_sessions()
        return self._recovery_page(request, None)

    def _already_done(self, request: Request) -> Response:
        return request.render("auth_totp.already_done", status=409)

    # -- changing the authenticator -------------------------------------------------

    @route("/auth_totp/change", auth="user", methods=["GET"], identity=True)
    def change(self, request: Request) -> Response:
        if not request.env.user.totp_enabled:
            return request.redirect("/web/preferences")
        wizard = request.env["auth_totp.wizard"].start(request.env.uid, request.now)
        return self._setup_page(request, wizard, change=True)

    @route("/auth_totp/change", auth="user", methods=["POST"])
    def replace(self, request: Request) -> Response:
        """The new app's first code replaces the secret; the old app stops at that moment."""
        user = request.env.user
        if not user.totp_enabled:
            return request.redirect("/web/preferences")
        wizard = self._posted_wizard(request)
        if not wizard:
            return request.render("auth_totp.setup_expired", {"change": True}, status=400)
        replaced = self._first_code(request, wizard, user._totp_replace, change=True)
        if isinstance(replaced, Response):
            return replaced
        if replaced is None:  # a parallel submission of this form did it
            return self._already_done(request)
        self._audit(request, "authenticator_changed")
        return request.redirect_query("/web/preferences", message="authenticator_changed")

    # -- recovery codes ----------------------------------------------------------

    def _recovery_page(self, request: Request, event: str | None) -> Response:
        codes = request.env["auth_totp.recovery_code"].generate(request.env.uid)
        if event:
            self._audit(request, event)
        return request.render("auth_totp.recovery_codes", {
            "codes": codes,
            "download": "data:text/plain;charset=utf-8," + "%0A".join(codes),
        })

    @route("/auth_totp/recovery/regenerate", auth="user", methods=["POST"], identity=True)
    def regenerate(self, request: Request) -> Response:
        user = request.env.user.sudo()
        if not user.totp_enabled:
            return request.redirect("/web/preferences")
        generation = request.httprequest.form.get("generation", "")
        current = int(generation) if generation.isdecimal() and len(generation) < 10 else -1
        # the form names the codes it replaces: of parallel submissions, one wins
        if not user._write_if([("totp_recovery_generation", "=", current)],
                              {"totp_recovery_generation": current + 1}):
            return self._already_done(request)
        request.end_other_sessions()
        return self._recovery_page(request, "recovery_regenerated")

    # -- turning off ---------------------------------------------------------------

    @route("/auth_totp/disable", auth="user", methods=["POST"], identity=True)
    def disable(self, request: Request) -> Response:
        if request.env.user.sudo()._totp_required():
            return request.render("web.preferences", self._values(request, totp_error=request._(
                "Your company requires two-factor authentication for your account: it "
                "cannot be turned off. To use another phone, change the authenticator "
                "app.")), status=400)
        if request.env.user.totp_enabled:
            request.env.user._totp_disable()
            self._audit(request, "disabled")
        return request.redirect_query("/web/preferences", message="totp_disabled")

    # -- trusted browsers ------------------------------------------------------------

    @route("/auth_totp/devices/<int:device_id>/revoke", auth="user", methods=["POST"],
           identity=True)
    def revoke(self, request: Request, device_id: int) -> Response:
        device = request.env["auth_totp.device"].sudo().browse(device_id).exists()
        if not device or device.user_id.id != request.env.uid:
            raise NotFound()
        device.unlink()
        self._audit(request, "device_revoked")
        return request.redirect_query("/web/preferences", message="device_revoked")

    @route("/auth_totp/devices/revoke-all", auth="user", methods=["POST"], identity=True)
    def revoke_all(self, request: Request) -> Response:
        devices = request.env["auth_totp.device"].sudo().search(
            [("user_id", "=", request.env.uid)])
        if devices:
            devices.unlink()
            self._audit(request, "device_revoked", detail=f"all ({len(devices)})")
        return request.redirect_query("/web/preferences", message="device_revoked")

    def _audit(self, request: Request, event: str, detail: str = "") -> None:
        request.env["auth_totp.event"].record(request.env.uid, event, now=request.now,
                                             ip=request.remote_addr, detail=detail)
