"""The faults of the external API: a code, a name and one clear line.

XML-RPC faults carry Odoo's fault codes, so scripts written for Odoo read
them as they do there; JSON-RPC errors carry the same name and message in
``error.data`` (and Odoo's code 200 for every application error). A message
never holds a traceback, a secret or SQL: what went wrong, in one line.
"""

from __future__ import annotations


class RpcFault(Exception):
    """A call the server refuses or cannot carry out; the message says why."""

    #: Odoo's XML-RPC fault code
    code = 1
    #: the kind of error, as JSON-RPC clients see it in ``error.data.name``
    name = "erpcore.exceptions.ServerError"
    #: the JSON-RPC error code: Odoo's 200 for the errors of a call, the
    #: specification's -32xxx for a request that is not JSON-RPC at all
    jsonrpc_code = 200
    #: the HTTP status of a JSON-RPC error (200, as in Odoo, but for a wrong content type)
    status = 200

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AccessDenied(RpcFault):
    """Who is calling is not known: wrong database, user id, password or key."""

    code = 3
    name = "erpcore.exceptions.AccessDenied"


class AccessRefused(RpcFault):
    """The caller is known, but may not do this (access rights, record rules, groups)."""

    code = 4
    name = "erpcore.exceptions.AccessError"


class InvalidCall(RpcFault):
    """The call is malformed or its arguments do not do; nothing was changed."""

    code = 2
    name = "erpcore.exceptions.UserError"


class ProtocolError(InvalidCall):
    """The request is not a well-formed call of the protocol (XML, JSON, envelope)."""

    name = "erpcore.exceptions.ProtocolError"

    def __init__(self, message: str, jsonrpc_code: int = -32600, status: int = 200):
        super().__init__(message)
        self.jsonrpc_code = jsonrpc_code
        self.status = status


class ServerError(RpcFault):
    """Something failed on the server; the details are in its log, not here."""
