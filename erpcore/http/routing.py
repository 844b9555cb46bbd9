"""Building the URL map from the controllers of the installed addons."""

from __future__ import annotations

from werkzeug.routing import Map, Rule

from erpcore.http.controllers import Controller, Routing, controller_classes, method_routing


def effective_controllers(installed: list[str]) -> list[type[Controller]]:
    """One class per controller family: the most derived among installed addons.

    When two installed addons both extend the same controller, their classes
    are combined (the later addon first in the MRO), as ``_inherit`` does for
    models.
    """
    order = {name: i for i, name in enumerate(installed)}
    active = [(order[addon], cls) for addon, cls in controller_classes if addon in order]
    active.sort(key=lambda item: item[0])
    classes = [cls for _rank, cls in active]
    leaves = [c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)]
    families: dict[type, list[type]] = {}
    for leaf in leaves:
        root = next(c for c in reversed(leaf.__mro__) if c in classes)
        families.setdefault(root, []).append(leaf)
    result = []
    for members in families.values():
        if len(members) == 1:
            result.append(members[0])
        else:
            name = members[-1].__name__
            attrs = {"_combined": True, "__module__": members[-1].__module__}
            result.append(type(name, tuple(reversed(members)), attrs))
    return result


def build_map(installed: list[str]) -> tuple[Map, dict[str, tuple[type, str, Routing]]]:
    """The Werkzeug map and, by endpoint, the (class, method name, routing) serving it."""
    rules = []
    endpoints: dict[str, tuple[type, str, Routing]] = {}
    for cls in effective_controllers(installed):
        for name in dir(cls):
            if name.startswith("_"):
                continue
            routing = method_routing(cls, name)
            if routing is None:
                continue
            endpoint = f"{cls.__module__}.{cls.__qualname__}.{name}"
            endpoints[endpoint] = (cls, name, routing)
            for url in routing.urls:
                rules.append(Rule(url, endpoint=endpoint, methods=routing.methods))
    return Map(rules, strict_slashes=False, merge_slashes=False), endpoints
