"""Odoo's external API at Odoo's URLs; the protocols themselves are :mod:`erpcore.rpc`.

Every route is ``auth='none'`` (the caller names itself in each call, or in
the body of ``/web/session/authenticate``) and ``csrf=False`` (a script
has no form to take a token from; the JSON routes want a content type that
a cross-site form cannot send).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from erpcore.http import Controller, Request, route
from erpcore.rpc import endpoints


class ExternalApi(Controller):
    @route("/xmlrpc/2/<service>", auth="none", methods=["POST"], csrf=False)
    def xmlrpc(self, request: Request, service: str) -> Response:
        """``common``, ``object`` or ``db``; any other name is a fault saying which are."""
        return endpoints.xmlrpc(request, service)

    @route("/jsonrpc", auth="none", methods=["POST"], csrf=False)
    def jsonrpc(self, request: Request) -> Response:
        return endpoints.jsonrpc(request)

    @route("/web/webclient/version_info", auth="none", methods=["POST"], csrf=False)
    def version_info(self, request: Request) -> Response:
        return endpoints.version_info(request)

    @route("/web/session/authenticate", auth="none", methods=["POST"], csrf=False)
    def session_authenticate(self, request: Request) -> Response:
        return endpoints.session_authenticate(request)
