"""Administrators: turning a user's 2FA off, and reading the audit trail."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from erpcore.addons.web.controllers.admin import Users
from erpcore.http import Controller, Request, route


class TotpUsers(Users):
    @route("/auth_totp/users/<int:user_id>/disable", auth="user", methods=["POST"],
           identity=True)
    def disable_for(self, request: Request, user_id: int) -> Response:
        user = self._user(request, user_id)  # administrators only; 404 for no such user
        if user.totp_enabled:
            user._totp_disable()
            request.env["auth_totp.event"].record(
                user.id, "disabled", now=request.now, ip=request.remote_addr,
                actor_id=request.env.uid, detail="by an administrator")
        return request.redirect_query("/web/users", message="totp_disabled")


class TotpAudit(Controller):
    @route("/auth_totp/audit", auth="user", methods=["GET"])
    def audit(self, request: Request) -> Response:
        request.env.check_admin()
        login = request.params.get("login", "")[:128]
        domain = []
        if login:
            users = request.env["res.users"].sudo().search([("login", "=", login)])
            if not users:
                raise NotFound()
            domain = [("user_id", "=", users.id)]
        events = request.env["auth_totp.event"].search(domain, limit=500)
        return request.render("auth_totp.audit", {"events": events, "login": login})
