"""Controllers: classes whose ``@route`` methods answer URLs.

``@route`` only attaches metadata to the function. An addon hooks a route by
subclassing the controller and overriding the method, with or without
repeating ``@route``: the override inherits the routing of the method it
overrides, and may refine it. Among the controller classes of installed
addons, the most derived one serves the route (:func:`erpcore.http.routing.build_map`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from erpcore.modules.addons import addon_of_module

#: every controller class Python has imported, with its addon, in import order
controller_classes: list[tuple[str, type[Controller]]] = []


@dataclass(frozen=True)
class Routing:
    urls: tuple[str, ...]
    #: 'user' needs a signed-in user, 'public' serves anyone, 'none' has no database user
    auth: str = "user"
    methods: tuple[str, ...] | None = None
    #: POST requests must carry a valid CSRF token
    csrf: bool = True
    #: the password must have been checked recently (see ``identity_check_lifetime``)
    identity: bool = False
    #: the route is reachable by a half-signed-in session (second factor pending)
    mfa: bool = False


def route(url: str | list[str], *, auth: str = "user", methods: list[str] | None = None,
          csrf: bool = True, identity: bool = False, mfa: bool = False) -> Callable:
    """Mark a controller method as answering *url* (a Werkzeug rule string or a list)."""
    if auth not in ("user", "public", "none"):
        raise ValueError(f"auth must be 'user', 'public' or 'none', not {auth!r}")
    urls = (url,) if isinstance(url, str) else tuple(url)
    routing = Routing(urls, auth, tuple(m.upper() for m in methods) if methods else None,
                      csrf, identity, mfa)

    def decorate(func: Callable) -> Callable:
        func.routing = routing  # type: ignore[attr-defined]
        return func

    return decorate


class Controller:
    """Base class of controllers. Subclasses are recorded with their addon."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_combined"):
            return  # assembled by the routing from classes already recorded
        controller_classes.append((addon_of_module(cls.__module__), cls))


def method_routing(cls: type, name: str) -> Routing | None:
    """The routing of *name* on *cls*, merged down the MRO from the first ``@route``.

    An override without ``@route`` keeps its parent's routing; one with
    ``@route`` replaces the URLs and options it names.
    """
    found: Routing | None = None
    for klass in reversed(cls.__mro__):
        func = klass.__dict__.get(name)
        routing = getattr(func, "routing", None)
        if routing is not None:
            found = routing if found is None else replace(found, **routing.__dict__)
    return found
