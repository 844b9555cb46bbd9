"""The HTTP side of the external API: one function per URL, each returning a response.

The ``web`` addon routes Odoo's URLs here (``auth='none'``, ``csrf=False``):

* ``/xmlrpc/2/common|object|db``: XML-RPC; a fault is an XML-RPC fault (HTTP 200);
* ``/jsonrpc``: JSON-RPC 2.0, ``{"service", "method", "args"}`` in ``params``;
* ``/web/webclient/version_info``: the version, over JSON-RPC;
* ``/web/session/authenticate``: signs a *browser session* in, for users
  without a second factor (the others are told to use the sign-in page).

None of them but the last touches the session, so none makes one. The
JSON ones want ``Content-Type: application/json``: a cross-site form cannot
send that without the browser asking first (CORS), which is what keeps
another site from signing a browser in through ``/web/session/authenticate``.
Bodies are already bounded by the HTTP server (1 MiB) and read whole.
"""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.wrappers import Response

from erpcore.rpc import services, wire
from erpcore.rpc.errors import AccessDenied, InvalidCall, ProtocolError, RpcFault

_logger = logging.getLogger(__name__)

JSON = "application/json"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_LOGIN = services.MAX_LOGIN
MAX_SECRET = services.MAX_SECRET


def xmlrpc(request: Any, service: str) -> Response:
    try:
        if service not in services.SERVICES:
            raise InvalidCall(f"unknown service {service[:32]!r}; offered: "
                              + ", ".join(services.SERVICES))
        if request.httprequest.mimetype in FORMS:
            raise ProtocolError("send the XML-RPC call with Content-Type: text/xml")
        method, params = wire.load_xmlrpc(request.httprequest.get_data())
        body = wire.dump_xmlrpc(services.call(request, service, method, params))
    except Exception as exc:
        request.env.conn.rollback()
        body = wire.dump_xmlrpc_fault(services.as_fault(exc, f"xmlrpc {service}"))
    return Response(body, mimetype="text/xml")


def _json_call(request: Any) -> wire.JsonCall:
    if request.httprequest.mimetype != JSON:
        raise ProtocolError("send the JSON-RPC call with Content-Type: application/json",
                            status=415)
    return wire.load_jsonrpc(request.httprequest.get_data())


def _json_response(call_id: Any, answer: Any) -> Response:
    if isinstance(answer, RpcFault):
        return Response(wire.dump_jsonrpc_error(call_id, answer), status=answer.status,
                        mimetype=JSON)
    return Response(wire.dump_jsonrpc(call_id, answer), mimetype=JSON)


def _answer(request: Any, work: Any) -> Response:
    """Run *work(call)* on the JSON-RPC call of the request: its result, or its error."""
    call_id = None
    try:
        call = _json_call(request)
        call_id = call.id
        return _json_response(call_id, work(call))
    except Exception as exc:
        request.env.conn.rollback()
        return _json_response(call_id, services.as_fault(exc, request.httprequest.path))


def jsonrpc(request: Any) -> Response:
    def work(call: wire.JsonCall) -> Any:
        service = call.params.get("service")
        if service not in services.SERVICES:
            raise InvalidCall("params.service is one of " + ", ".join(services.SERVICES))
        return services.call(request, service, call.params.get("method"),
                             call.params.get("args", []))

    return _answer(request, work)


def version_info(request: Any) -> Response:
    return _answer(request, lambda call: services.version_info())


def session_authenticate(request: Any) -> Response:
    """Sign this browser session in with a login and password, as the sign-in page does.

    Same door, same throttle (device cookie included), same end of sign-in
    (``request.finalize_sign_in``). A user with a second factor is not
    signed in: the answer says to use the sign-in page, where the code is
    asked. An API key is refused here, as on the sign-in page.
    """
    def work(call: wire.JsonCall) -> dict[str, Any]:
        params = call.params
        services.check_database(request, params.get("db"))
        login, password = params.get("login"), params.get("password")
        if not isinstance(login, str) or not isinstance(password, str):
            raise InvalidCall("params.login and params.password are texts")
        if not login or not password or len(login) > MAX_LOGIN or len(password) > MAX_SECRET:
            raise AccessDenied(services.DENIED)
        check = request.env["res.users"]._sign_in_check(
            login, password, address=request.remote_addr, now=request.now,
            device=request.known_device(login))
        request.env.conn.commit()  # the door's counts stand, whatever follows
        if check.throttled:
            raise AccessDenied(f"too many failed sign-ins; try again in {check.wait} seconds")
        if not check.user:
            _logger.info("session sign-in refused from %s", request.remote_addr or "?")
            raise AccessDenied(services.DENIED)
        if check.user._mfa_url():
            raise AccessDenied("a second factor is required for this account: sign in "
                               "through the sign-in page (/web/login); scripts use an API "
                               "key with /jsonrpc or /xmlrpc/2")
        user = check.user
        request.finalize_sign_in(user)
        return {"uid": user.id, "name": user.name, "username": user.login,
                "db": services.database_name(request.server),
                "is_admin": user._is_admin(), "is_system": user._is_admin(),
                "user_context": {"lang": user.lang or "en", "tz": user.tz or "UTC",
                                 "uid": user.id},
                "server_version_info": services.version_info()["server_version_info"]}

    return _answer(request, work)
