"""The services of Odoo's external API: ``common``, ``db`` and ``object``.

::

    call(request, service, method, params)
      |- check_shape            bounds on what the call carries (erpcore.rpc.wire)
      |- SERVICES[service][method], its arguments bound to its signature
      |    common.version | login | authenticate
      |    db.list | server_version
      |    object.execute_kw | execute
      |       '- authenticate_call   the sign-in door, then commit its bookkeeping
      |       '- methods.call        the model method, as that user
      '- any error: roll back, raise an RpcFault of one clear line

Every call that names a user checks the secret anew, through the one door
of sign-in (``res.users._sign_in_check`` with ``interactive=False``): the
same throttle counters as the sign-in page, API keys accepted there and
nowhere else, and the password refused for users who must use a key
(``_rpc_api_keys_only``, such as users with two-factor authentication).
No session is made: the API is stateless, as in Odoo.

The transaction: the door commits its own bookkeeping before the password
hash, and what it writes after is committed at once here, before the model
method runs; a fault then rolls the method's work back and leaves the
bookkeeping standing.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

import erpcore
from erpcore.orm import AccessError, UserError
from erpcore.orm.models import MAX_ID
from erpcore.rpc import methods
from erpcore.rpc.errors import AccessDenied, AccessRefused, InvalidCall, RpcFault, ServerError
from erpcore.rpc.wire import check_shape

_logger = logging.getLogger(__name__)

#: longest login and secret looked at (longer ones are refused unchecked)
MAX_LOGIN = 128
MAX_SECRET = 4096

API_KEY_NEEDED = ("this account must use an API key over the API, not its password "
                  "(two-factor authentication is on): make one in Preferences, API keys")
DENIED = "access denied: wrong login, user id, password or API key (a key that expired, " \
         "was revoked, or whose user is archived is refused)"


def database_name(server: Any) -> str:
    """The database's name as clients give it: the SQLite file's name without its
    extension, or the PostgreSQL database's name."""
    url = server.engine.url
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").stem
    return url.database or ""


def version_info() -> dict[str, Any]:
    major, minor, micro = (int(part) for part in erpcore.__version__.split(".")[:3])
    return {"server_version": erpcore.__version__,
            "server_version_info": [major, minor, micro, "final", 0, ""],
            "server_serie": f"{major}.{minor}", "protocol_version": 1}


def call(request: Any, service: str, method: Any, params: Any) -> Any:
    """Carry out one call; its answer, or an :class:`RpcFault` (the transaction rolled back)."""
    try:
        check_shape(params)
        handler = SERVICES.get(service, {}).get(method) if isinstance(method, str) else None
        if handler is None:
            raise InvalidCall(f"unknown method {service}.{str(method)[:64]}; offered: "
                              + ", ".join(SERVICES.get(service, {})))
        if not isinstance(params, (list, tuple)):
            raise InvalidCall("args is a list")
        try:
            bound = inspect.signature(handler).bind(request, *params)
        except TypeError as exc:
            raise InvalidCall(f"{service}.{method} takes {methods.signature_of(handler)}") \
                from exc
        return handler(*bound.args, **bound.kwargs)
    except Exception as exc:
        request.env.conn.rollback()
        raise as_fault(exc, f"{service}.{method}") from exc


def as_fault(exc: Exception, where: str) -> RpcFault:
    """The fault a client sees for *exc*: its own message for what the caller got
    wrong, a generic one (the details logged) for what failed on the server."""
    if isinstance(exc, RpcFault):
        return exc
    if isinstance(exc, AccessError):
        return AccessRefused(_one_line(exc))
    if isinstance(exc, (UserError, ValueError)):  # ValueError: domains, values, orders
        return InvalidCall(_one_line(exc))
    if isinstance(exc, RecursionError):
        return InvalidCall("the call is too deeply nested")
    if isinstance(exc, DBAPIError):
        _logger.error("RPC %s: database error %s", where, exc.__class__.__name__)
        return ServerError("database error; the server's log has the details")
    _logger.exception("RPC %s failed", where)
    return ServerError("server error; the server's log has the details")


def _one_line(exc: Exception) -> str:
    text = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    return text if len(text) <= 300 else text[:297] + "..."


def check_database(request: Any, db: Any) -> None:
    name = database_name(request.server)
    if db != name:
        raise AccessDenied(f"no database {str(db)[:64]!r} here; db.list gives {name!r}")


# -- common --------------------------------------------------------------------------------


def version(request: Any) -> dict[str, Any]:
    return version_info()


def login(request: Any, db: Any, login: Any, password: Any) -> int | bool:
    return authenticate(request, db, login, password, {})


def authenticate(request: Any, db: Any, login: Any, password: Any,
                 user_agent_env: Any = None) -> int | bool:
    """The user id for *login* and *password* (or an API key), else False (Odoo's answer).

    A throttled try is a fault that says how long to wait, as the sign-in page does.
    """
    check_database(request, db)
    if user_agent_env is not None and not isinstance(user_agent_env, dict):
        raise InvalidCall("user_agent_env is a struct")
    if not isinstance(login, str) or not isinstance(password, str):
        raise InvalidCall("the login and the password are texts")
    if not login or not password or len(login) > MAX_LOGIN or len(password) > MAX_SECRET:
        return False  # no account has them: refused as wrong, without writing anything
    check = _door(request, login, password)
    if check.user:
        _logger.info("RPC: user %s authenticated from %s", check.user.id,
                     request.remote_addr or "?")
        return check.user.id
    return False


def _door(request: Any, login: str, secret: str) -> Any:
    """The sign-in door, its bookkeeping committed; a fault when it makes the caller wait."""
    check = request.env["res.users"]._sign_in_check(
        login, secret, address=request.remote_addr, now=request.now, interactive=False)
    request.env.conn.commit()  # the door's counts and the key's last use stand, whatever follows
    if check.throttled:
        raise AccessDenied(f"too many failed sign-ins; try again in {check.wait} seconds")
    if not check.user:
        _logger.info("RPC sign-in refused from %s", request.remote_addr or "?")
    return check


# -- object --------------------------------------------------------------------------------


def authenticate_call(request: Any, db: Any, uid: Any, password: Any) -> Any:
    """The environment of the user *uid*, if *password* is theirs (or one of their
    API keys); else an :class:`AccessDenied`, saying when a key is needed."""
    check_database(request, db)
    if isinstance(uid, bool) or not isinstance(uid, int) or not isinstance(password, str) \
            or not password or len(password) > MAX_SECRET:
        raise AccessDenied(DENIED)
    users = request.env["res.users"].sudo()
    user = users.browse(uid).exists() if 0 < uid <= MAX_ID else users.browse()
    # an unknown uid is tried as the login "", which no user has: counted, and refused
    check = _door(request, user.login if user else "", password)
    if check.user and check.user.id == uid:
        return request.env(uid=uid, su=False)
    if check.api_key_required:
        raise AccessDenied(API_KEY_NEEDED)
    raise AccessDenied(DENIED)


def execute_kw(request: Any, db: Any, uid: Any, password: Any, model: Any, method: Any,
               args: Any = None, kwargs: Any = None) -> Any:
    env = authenticate_call(request, db, uid, password)
    return methods.call(env, model, method, [] if args is None else args,
                        {} if kwargs is None else kwargs)


def execute(request: Any, db: Any, uid: Any, password: Any, model: Any, method: Any,
            *args: Any) -> Any:
    env = authenticate_call(request, db, uid, password)
    return methods.call(env, model, method, list(args), {})


# -- db --------------------------------------------------------------------------------------


def list_databases(request: Any) -> list[str]:
    return [database_name(request.server)]


def server_version(request: Any) -> str:
    return erpcore.__version__


SERVICES: dict[str, dict[str, Callable[..., Any]]] = {
    "common": {"version": version, "login": login, "authenticate": authenticate},
    "object": {"execute_kw": execute_kw, "execute": execute},
    "db": {"list": list_databases, "server_version": server_version},
}
