"""Paramètres: the administrators' settings page, which each addon fills.

The page is empty here, as in Odoo: an addon adds its section inside
``div#settings_sections`` through xpath, its values by overriding
:meth:`Settings._values`, and its form posts to a route of its own (which
checks the administrator and, for a sensitive setting, asks for the password
again with ``identity=True``).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from erpcore.http import Controller, Request, route


class Settings(Controller):
    @route("/web/settings", auth="user", methods=["GET"])
    def settings(self, request: Request) -> Response:
        request.env.check_admin()
        return request.render("web.settings", self._values(request))

    def _values(self, request: Request, **values: object) -> dict:
        """The values of the page; addons add theirs by overriding this."""
        base = {"message": request.params.get("message"), "error": None, "info": None}
        base.update(values)
        return base
