"""Reading calls and writing answers: XML-RPC and JSON-RPC, with the standard library.

XML-RPC bodies are parsed by :mod:`xmlrpc.client`'s own unmarshaller, fed by
defusedxml's expat parser set to refuse any document type declaration: an
XML-RPC call never needs one, and a DOCTYPE is how entity tricks begin. (The
expat that Python bundles limits entity expansion since 2.4, which stops the
billion laughs, but it still expands entities declared in an internal DTD,
and an external one is one setting away; refusing the DOCTYPE closes all of
it at once.) JSON bodies are parsed by :mod:`json`, refusing ``NaN`` and
``Infinity``.

Whatever the protocol carried, :func:`check_shape` then bounds it (nesting,
size, integers, floats, text) before any of it reaches the database, and
:func:`to_wire` turns answers into what both protocols can carry: no None
(``False`` instead, as Odoo answers), datetimes as ``YYYY-MM-DD HH:MM:SS``
text in UTC.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import xmlrpc.client
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

from erpcore.rpc.errors import InvalidCall, ProtocolError, RpcFault

#: nesting of lists and structs in one call, at most
MAX_DEPTH = 32
#: values in one call, at most (a 1 MiB body holds fewer than this)
MAX_VALUES = 200_000
#: the integers a call may carry (64-bit, what a column holds)
INT_RANGE = (-(2**63), 2**63 - 1)
#: the integers an XML-RPC answer may carry as ``<int>``; larger ones go as text
XMLRPC_INT = (-(2**31), 2**31 - 1)
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


# -- XML-RPC -------------------------------------------------------------------------------


def load_xmlrpc(body: bytes) -> tuple[str, tuple]:
    """The method name and parameters of an XML-RPC ``methodCall``.

    :raises ProtocolError: the body is not one (malformed, a DOCTYPE, a response...).
    """
    if not body.strip():
        raise ProtocolError("empty request: send an XML-RPC methodCall with "
                            "Content-Type: text/xml")
    unmarshaller = xmlrpc.client.Unmarshaller(use_builtin_types=True)
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    try:
        parser.feed(body)
        parser.close()
        params = unmarshaller.close()
    except DefusedXmlException as exc:
        raise ProtocolError("XML with a DOCTYPE or entity declarations is refused") from exc
    except Exception as exc:  # the stdlib's parser on untrusted bytes: any failure is theirs
        raise ProtocolError("malformed XML-RPC request") from exc
    method = unmarshaller.getmethodname()
    if not method:
        raise ProtocolError("not an XML-RPC methodCall")
    return method, tuple(params)


def dump_xmlrpc(result: Any) -> bytes:
    value = to_wire(result, xmlrpc=True)
    return xmlrpc.client.dumps((value,), methodresponse=True, encoding="utf-8").encode()


def dump_xmlrpc_fault(fault: RpcFault) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(fault.code, fault.message),
                               methodresponse=True, encoding="utf-8").encode()


# -- JSON-RPC ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonCall:
    """One JSON-RPC 2.0 request as Odoo's clients send it: method ``call``, params a struct."""

    id: Any
    params: dict[str, Any]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_jsonrpc(body: bytes) -> JsonCall:
    """The request of a JSON-RPC body.

    :raises ProtocolError: with the specification's code (-32700 for a body
        that is not JSON, -32600 for an envelope that is not a request...).
    """
    try:
        request = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError("malformed JSON", -32700) from exc
    if isinstance(request, list):
        raise ProtocolError("batch requests are not supported: send one call per request")
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
        raise ProtocolError('not a JSON-RPC 2.0 request: {"jsonrpc": "2.0", "method": '
                            '"call", "params": {...}, "id": 1}')
    call_id = request.get("id")
    if call_id is not None and (isinstance(call_id, bool) or not isinstance(call_id, (str, int))
                                or (isinstance(call_id, str) and len(call_id) > 256)):
        raise ProtocolError("the id is a number or a short string")
    if request.get("method") != "call":
        raise _with_id(ProtocolError('the method is "call"; the service and its method go in '
                                     "params", -32601), call_id)
    params = request.get("params", {})
    if not isinstance(params, dict):
        raise _with_id(ProtocolError("params is an object", -32602), call_id)
    return JsonCall(call_id, params)


def _with_id(fault: RpcFault, call_id: Any) -> RpcFault:
    fault.call_id = call_id  # type: ignore[attr-defined]
    return fault


def dump_jsonrpc(call_id: Any, result: Any) -> bytes:
    return _json({"jsonrpc": "2.0", "id": call_id, "result": to_wire(result)})


def dump_jsonrpc_error(call_id: Any, fault: RpcFault) -> bytes:
    """An error as Odoo's clients read it: the message in ``error.data.message`` too."""
    return _json({"jsonrpc": "2.0", "id": getattr(fault, "call_id", call_id), "error": {
        "code": fault.jsonrpc_code, "message": fault.message,
        "data": {"name": fault.name, "message": fault.message, "arguments": [fault.message],
                 "debug": ""},
    }})


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


# -- what calls may carry, what answers carry ----------------------------------------------


def check_shape(value: Any) -> None:
    """Refuse what no call needs: deep nesting, too many values, integers beyond
    64 bits, NaN and infinities, text with NUL or lone surrogates.

    Iterative, so a deeply nested body cannot exhaust Python's stack.
    :raises InvalidCall: saying what is wrong.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while pending:
        item, depth = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise InvalidCall(f"too many values in one call (at most {MAX_VALUES})")
        if isinstance(item, (list, tuple, Mapping)):
            if depth >= MAX_DEPTH:
                raise InvalidCall(f"the arguments are nested more than {MAX_DEPTH} deep")
            if isinstance(item, Mapping):
                for key in item:
                    if not isinstance(key, str):
                        raise InvalidCall("the keys of a struct are strings")
                    _check_text(key)
                pending.extend((v, depth + 1) for v in item.values())
            else:
                pending.extend((v, depth + 1) for v in item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_RANGE[0] <= item <= INT_RANGE[1]:
                raise InvalidCall("an integer is out of range (64 bits at most)")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidCall("NaN and infinities are not numbers a call can use")
        elif isinstance(item, str):
            _check_text(item)
        elif not isinstance(item, (bytes, dt.datetime)):
            raise InvalidCall(f"values of type {type(item).__name__} are not accepted")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise InvalidCall("text with a NUL character is refused")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidCall("text with lone surrogates is refused") from exc


def to_wire(value: Any, xmlrpc: bool = False) -> Any:
    """*value* as both protocols carry it (None as False, datetimes as UTC text...)."""
    if value is None:
        return False
    if isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        if xmlrpc and not XMLRPC_INT[0] <= value <= XMLRPC_INT[1]:
            return str(value)  # XML-RPC's <int> is 32 bits
        return value
    if isinstance(value, dt.datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [to_wire(item, xmlrpc) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_wire(item, xmlrpc) for key, item in value.items()}
    raise TypeError(f"cannot send a {type(value).__name__} over RPC")
