"""The home page."""

from __future__ import annotations

from werkzeug.wrappers import Response

from erpcore.http import Controller, Request, route


class Home(Controller):
    @route("/", auth="public")
    def root(self, request: Request) -> Response:
        return request.redirect("/web" if request.session.uid else "/web/login")

    @route("/web", auth="user")
    def home(self, request: Request) -> Response:
        return request.render("web.home", {"is_admin": request.env.is_admin()})
