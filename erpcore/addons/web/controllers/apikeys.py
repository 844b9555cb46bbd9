"""API keys in the pages: a user's own in Préférences, everyone's on Utilisateurs.

Making a key asks for the password again when it was last typed more than
ten minutes ago (``identity=True``): a key is a credential of its own, and a
borrowed session must not mint one. So does revoking, as for trusted
browsers. The key is shown once, on the page that answers its creation
(never cached: every HTML page is ``no-store``), and never again.
"""

from __future__ import annotations

import logging

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from erpcore.addons.base.models.res_users_apikeys import DURATIONS, MAX_NAME_LENGTH
from erpcore.http import Controller, Request, route
from erpcore.orm import UserError

_logger = logging.getLogger(__name__)

#: the form's value for a key that does not expire (administrators only)
NO_EXPIRY = "never"


class ApiKeys(Controller):
    @route("/web/preferences/apikeys/new", auth="user", methods=["GET"], identity=True)
    def new(self, request: Request) -> Response:
        return self._form(request)

    def _form(self, request: Request, error: str | None = None, status: int = 200,
              name: str = "", duration: str = "30") -> Response:
        return request.render("web.apikey_new", {
            "error": error, "name": name, "duration": duration, "durations": DURATIONS,
            "may_not_expire": request.env.is_admin(), "no_expiry": NO_EXPIRY,
            "max_length": MAX_NAME_LENGTH,
        }, status=status)

    @route("/web/preferences/apikeys/new", auth="user", methods=["POST"], identity=True)
    def create(self, request: Request) -> Response:
        form = request.httprequest.form
        name = form.get("name", "")[:4 * MAX_NAME_LENGTH]
        duration = form.get("duration", "")[:16]
        if duration == NO_EXPIRY and request.env.is_admin():
            days = None
        elif duration.isascii() and duration.isdigit() and int(duration) in DURATIONS:
            days = int(duration)
        else:
            return self._form(request, request._("Choose a duration from the list."), 400,
                              name=name[:MAX_NAME_LENGTH])
        user = request.env.user
        try:
            made, key = request.env["res.users.apikeys"]._generate(
                user, name, days=days, now=request.now, actor_id=user.id,
                ip=request.remote_addr)
        except UserError as exc:
            return self._form(request, str(exc), 400, name=name[:MAX_NAME_LENGTH],
                              duration=duration)
        return request.render("web.apikey_created", {
            "key": key, "name": made.name, "expires": made.expires_at})

    @route("/web/preferences/apikeys/<int:key_id>/revoke", auth="user", methods=["POST"],
           identity=True)
    def revoke(self, request: Request, key_id: int) -> Response:
        key = request.env["res.users.apikeys"].sudo().browse(key_id).exists()
        if not key or key.user_id.id != request.env.uid:
            raise NotFound()
        key._revoke(now=request.now, actor_id=request.env.uid, ip=request.remote_addr)
        return request.redirect_query("/web/preferences", message="apikey_revoked")

    @route("/web/users/apikeys/<int:key_id>/revoke", auth="user", methods=["POST"],
           identity=True)
    def revoke_any(self, request: Request, key_id: int) -> Response:
        request.env.check_admin()
        key = request.env["res.users.apikeys"].sudo().browse(key_id).exists()
        if not key:
            raise NotFound()
        key._revoke(now=request.now, actor_id=request.env.uid, ip=request.remote_addr)
        return request.redirect_query("/web/users", message="apikey_revoked")
