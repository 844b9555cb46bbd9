"""Préférences: the signed-in user's own settings."""

from __future__ import annotations

from werkzeug.wrappers import Response

from erpcore.addons.base.models.res_users import (
    LANGUAGES,
    MAX_EMAIL_LENGTH,
    TIMEZONES,
    valid_email,
)
from erpcore.http import Controller, Request, route
from erpcore.orm import AccessError, UserError

MAX_FIELD_LENGTH = 256


class Preferences(Controller):
    @route("/web/preferences", auth="user", methods=["GET"])
    def preferences(self, request: Request, **values: object) -> Response:
        return request.render("web.preferences", self._values(request, **values))

    def _values(self, request: Request, **values: object) -> dict:
        """The values of the Préférences page; addons add theirs by overriding this."""
        user = request.env.user.sudo()
        base = {
            "user": user,
            "languages": LANGUAGES,
            "timezones": TIMEZONES,
            "message": request.params.get("message"),
            "error": None,
            "password_error": None,
            "email_error": None,
            "apikeys": request.env["res.users.apikeys"]._owned_by(user.id),
            "now": request.now,
        }
        base.update(values)
        return base

    @route("/web/preferences/save", auth="user", methods=["POST"])
    def save(self, request: Request) -> Response:
        form = request.httprequest.form
        vals = {
            "name": form.get("name", "").strip(),
            "lang": form.get("lang", ""),
            "tz": form.get("tz", ""),
        }
        error = None
        if not vals["name"] or len(vals["name"]) > MAX_FIELD_LENGTH:
            error = request._("The name is required (at most 256 characters).")
        elif vals["lang"] not in dict(LANGUAGES) or vals["tz"] not in dict(TIMEZONES):
            error = request._("Choose a language and a time zone from the lists.")
        if error:
            return request.render("web.preferences", self._values(request, error=error),
                                  status=400)
        request.env.user.sudo().write(vals)
        return request.redirect_query("/web/preferences", message="saved")

    @route("/web/preferences/email", auth="user", methods=["POST"], identity=True)
    def change_email(self, request: Request) -> Response:
        """Change the address mail goes to; the old address is told (it may be the owner's
        only way to learn that someone else took the account)."""
        new = request.httprequest.form.get("email", "").strip()
        if len(new) > MAX_EMAIL_LENGTH or (new and not valid_email(new)):
            return request.render("web.preferences", self._values(
                request, email_error=request._("This email address is not valid.")), status=400)
        user = request.env.user.sudo()
        old = user.email or ""
        if new != old:
            user.write({"email": new or False})
            if old:
                request.env["mail.mail"]._queue(
                    user, "web.email_changed", "web.mail_email_changed",
                    {"at": request.now, "ip": request.remote_addr, "new": new},
                    now=request.now, email_to=old)
        return request.redirect_query("/web/preferences", message="email")

    @route("/web/preferences/password", auth="user", methods=["POST"])
    def change_password(self, request: Request) -> Response:
        form = request.httprequest.form
        new = form.get("new_password", "")
        error = None
        if new != form.get("confirm_password", ""):
            error = request._("The two new passwords differ.")
        else:
            try:  # the current password is checked through the identity re-check's throttle
                request.env.user.change_password(form.get("old_password", ""), new,
                                                 now=request.now)
            except (AccessError, UserError) as exc:
                error = str(exc)
        if error:
            return request.render("web.preferences",
                                  self._values(request, password_error=error), status=400)
        # write() signed every session of the user out, this one too: it goes on, anew
        request.session.rotate(fresh=True)
        return request.redirect_query("/web/preferences", message="password")
