"""Administrators: each user's 2FA in Utilisateurs (filter, deadline, reset, trusted
browsers, invitation), and the audit trail.

Every action on another user's 2FA asks for the administrator's password again
when their last check is older than ten minutes (``identity=True``) and is an
audit event naming the administrator.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from erpcore.addons.web.controllers.admin import Users
from erpcore.http import Controller, Request, route

#: the filters of the 2FA column: every user, 2FA on, 2FA off, required but not on yet
FILTERS = ("", "on", "off", "required")


def shown(user, kind: str, deadline) -> bool:
    """Whether *user* (whose deadline is *deadline*, or None) passes the filter *kind*."""
    if kind == "on":
        return user.totp_enabled
    if kind == "off":
        return not user.totp_enabled
    if kind == "required":
        return deadline is not None
    return True


class TotpUsers(Users):
    def users(self, request: Request) -> Response:
        if request.params.get("totp", "") not in FILTERS:
            request.env.check_admin()
            return request.render("web.users", self._values(
                request, request._("Choose a filter from the list.")), status=400)
        return super().users(request)

    def _values(self, request: Request, error: str | None = None, **values: object) -> dict:
        result = super()._values(request, error)
        kind = request.params.get("totp", "")
        kind = kind if kind in FILTERS else ""
        deadlines = {user.id: user._totp_deadline() for user in result["users"]}
        result["users"] = result["users"].browse(
            [user.id for user in result["users"] if shown(user, kind, deadlines[user.id])])
        result.update({"totp_filter": kind, "totp_deadlines": deadlines, "totp_invite": None,
                       **values})
        return result

    @route("/auth_totp/users/<int:user_id>/disable", auth="user", methods=["POST"],
           identity=True)
    def disable_for(self, request: Request, user_id: int) -> Response:
        user = self._user(request, user_id)  # administrators only; 404 for no such user
        if user.totp_enabled:
            user._totp_reset(request.now)  # under a policy, a new grace period
            self._audit(request, user, "disabled", "by an administrator")
        return request.redirect_query("/web/users", message="totp_disabled")

    @route("/auth_totp/users/<int:user_id>/devices/revoke", auth="user", methods=["POST"],
           identity=True)
    def revoke_devices_of(self, request: Request, user_id: int) -> Response:
        """Every trusted browser of the user: the code is asked again on each of them."""
        user = self._user(request, user_id)
        devices = request.env["auth_totp.device"].sudo().search([("user_id", "=", user.id)])
        if devices:
            devices.unlink()
            self._audit(request, user, "devices_revoked_by_admin", f"all ({len(devices)})")
        return request.redirect_query("/web/users", message="devices_revoked")

    @route("/auth_totp/users/<int:user_id>/invite", auth="user", methods=["POST"],
           identity=True)
    def invite(self, request: Request, user_id: int) -> Response:
        """Invite a user to turn 2FA on: by mail when it can go, else a link to give them.

        The link leads to the setup in Préférences, behind the sign-in: it
        carries nothing that signs anyone in.
        """
        user = self._user(request, user_id)
        if user.totp_enabled:
            return request.redirect("/web/users")
        mailed = user._totp_invite(request.env.user, request.now)
        self._audit(request, user, "invited", "mail" if mailed else "link")
        if mailed:
            return request.redirect_query("/web/users", message="invited")
        if request.env.config.smtp_server:  # mail goes out, but this user has no address
            text = request._("{name} has no email address, so no invitation was sent. Give "
                             "them this link: once signed in, it leads to the setup of "
                             "two-factor authentication.", name=user.name)
        else:
            text = request._("Mail is not configured, so no invitation was sent. Give "
                             "{name} this link: once signed in, it leads to the setup of "
                             "two-factor authentication.", name=user.name)
        return request.render("web.users", self._values(request, totp_invite={
            "text": text, "link": request.httprequest.host_url + "auth_totp/setup"}))

    def _audit(self, request: Request, user, event: str, detail: str) -> None:
        request.env["auth_totp.event"].record(
            user.id, event, now=request.now, ip=request.remote_addr,
            actor_id=request.env.uid, detail=detail)


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
