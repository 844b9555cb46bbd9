"""Administrator pages: Applications (addons) and Utilisateurs (users)."""

from __future__ import annotations

import logging

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from erpcore import db
from erpcore.http import Controller, Request, route
from erpcore.modules.addons import AddonError, installed_names
from erpcore.modules.loading import install, uninstall
from erpcore.orm import UserError
from erpcore.registry import RegistryError

_logger = logging.getLogger(__name__)


class Apps(Controller):
    @route("/web/apps", auth="user", methods=["GET"])
    def apps(self, request: Request) -> Response:
        request.env.check_admin()
        return request.render("web.apps", self._values(request))

    def _values(self, request: Request, error: str | None = None) -> dict:
        available = request.server.discover()
        installed = set(installed_names(request.env.conn, available))
        addons = [
            {
                "name": addon.name,
                "title": addon.manifest.name,
                "summary": addon.manifest.summary,
                "icon": addon.manifest.icon or "/web/static/description/icon.svg",
                "installed": addon.name in installed,
                "core": addon.name in ("base", "web"),
            }
            for addon in sorted(available.values(), key=lambda a: a.manifest.name.lower())
            if addon.manifest.installable
        ]
        return {"addons": addons, "error": error, "message": request.params.get("message")}

    @route("/web/apps/install", auth="user", methods=["POST"], identity=True)
    def install(self, request: Request) -> Response:
        # identity=True: an addon adds code that every request runs
        request.env.check_admin()
        name = request.httprequest.form.get("name", "")[:128]
        try:
            done = install(request.server, request.env.conn, [name])
        except (AddonError, RegistryError) as exc:
            return request.render("web.apps", self._values(request, str(exc)), status=400)
        _logger.info("user %s installed %s", request.env.uid, ", ".join(done) or name)
        return request.redirect_query("/web/apps", message="installed")

    @route("/web/apps/uninstall", auth="user", methods=["POST"], identity=True)
    def uninstall(self, request: Request) -> Response:
        # identity=True: uninstalling an addon can switch a safeguard off for everyone
        # (auth_totp: every user's second factor), so it asks for the password again
        request.env.check_admin()
        name = request.httprequest.form.get("name", "")[:128]
        try:
            done = uninstall(request.server, request.env.conn, name)
        except (AddonError, RegistryError) as exc:
            return request.render("web.apps", self._values(request, str(exc)), status=400)
        # the removed rows (an addon's secrets) must not outlive it in SQLite's log
        request.after_commit(lambda: db.truncate_wal(request.server.engine))
        _logger.info("user %s uninstalled %s", request.env.uid, ", ".join(done))
        return request.redirect_query("/web/apps", message="uninstalled")


class Users(Controller):
    @route("/web/users", auth="user", methods=["GET"])
    def users(self, request: Request) -> Response:
        request.env.check_admin()
        return request.render("web.users", self._values(request))

    def _values(self, request: Request, error: str | None = None) -> dict:
        """The values of the Utilisateurs page; addons add theirs by overriding this."""
        users = request.env["res.users"].sudo().search([], order="login")
        return {"users": users, "error": error, "message": request.params.get("message"),
                "admin_group": request.env.ref("base.group_system"),
                "apikeys": request.env["res.users.apikeys"].sudo().search([]),
                "apikey_events": request.env["res.users.apikeys.event"].search([], limit=50),
                "now": request.now}

    def _user(self, request: Request, user_id: int):
        request.env.check_admin()
        user = request.env["res.users"].sudo().browse(user_id).exists()
        if not user:
            raise NotFound()
        return user

    @route("/web/users/create", auth="user", methods=["POST"], identity=True)
    def create(self, request: Request) -> Response:
        request.env.check_admin()
        form = request.httprequest.form
        login = form.get("login", "").strip()
        name = form.get("name", "").strip() or login
        password = form.get("password", "")
        groups = [request.env.ref("base.group_user").id]
        if form.get("admin"):
            groups.append(request.env.ref("base.group_system").id)
        try:
            request.env["res.users"]._validate_new_password(password)
            if len(name) > 256:
                raise UserError(request._("The name is too long."))
            user = request.env["res.users"].sudo().create({
                "login": login, "name": name, "password": password, "group_ids": groups,
                "email": form.get("email", "").strip()[:256],
            })
        except UserError as exc:
            return request.render("web.users", self._values(request, str(exc)), status=400)
        _logger.info("user %s created user %s", request.env.uid, user.id)
        return request.redirect_query("/web/users", message="created")

    @route("/web/users/<int:user_id>/password", auth="user", methods=["POST"], identity=True)
    def reset_password(self, request: Request, user_id: int) -> Response:
        # identity=True: without it, a borrowed administrator session could set its own
        # password with no old one, then pass every other re-check with it
        user = self._user(request, user_id)
        password = request.httprequest.form.get("password", "")
        try:
            user._validate_new_password(password)
        except UserError as exc:
            return request.render("web.users", self._values(request, str(exc)), status=400)
        user.write({"password": password})
        _logger.info("user %s reset the password of user %s", request.env.uid, user.id)
        return request.redirect_query("/web/users", message="password")

    @route("/web/users/<int:user_id>/archive", auth="user", methods=["POST"], identity=True)
    def archive(self, request: Request, user_id: int) -> Response:
        user = self._user(request, user_id)
        if user.id == request.env.uid:
            return request.render("web.users", self._values(
                request, request._("You cannot archive yourself.")), status=400)
        user.write({"active": not user.active})
        _logger.info("user %s set active=%s on user %s", request.env.uid, user.active, user.id)
        return request.redirect_query("/web/users", message="archived")
