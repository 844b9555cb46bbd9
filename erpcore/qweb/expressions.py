"""Compilation of the Python expressions written in directive attributes.

Each expression is compiled once, when its template is compiled; a render only
evaluates the code objects, with the render values as globals. Templates are
trusted addon files, so the small builtins set is meant to keep templates
simple, not to be a sandbox.
"""

import ast
import builtins
import re
from collections.abc import Mapping
from types import CodeType
from typing import Any

from .errors import directive_error

SAFE_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "len",
        "str",
        "int",
        "bool",
        "min",
        "max",
        "sorted",
        "enumerate",
        "range",
        "list",
        "dict",
        "any",
        "all",
        "abs",
        "round",
        "zip",
        "isinstance",
        "True",
        "False",
        "None",
    )
}


class Scope(dict):
    """The render values, which are also the globals of every expression.

    One scope serves a whole render, but for what ``t-foreach`` and
    ``t-call`` give their content: a copy, so nothing set inside leaks out.
    A lambda made by ``t-value`` thus sees the values set after it.

    An unknown name is ``None``, as in Odoo: a dict subclass makes CPython look
    names up through ``__getitem__``, so ``__missing__`` also serves names used
    inside comprehensions.
    """

    def __missing__(self, name: str) -> Any:
        return SAFE_BUILTINS.get(name)


def new_scope(values: Mapping[str, Any]) -> Scope:
    """A copy of ``values`` that expressions can be evaluated in."""
    scope = Scope(values)
    scope["__builtins__"] = SAFE_BUILTINS
    return scope


_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}|#\{(.+?)\}", re.DOTALL)


def compile_expr(key: str, label: str, source: str) -> CodeType:
    """Compile ``source``, to be evaluated with a :class:`Scope` as globals.

    Values are globals, not locals, so that comprehensions see them too.

    :param key: the template key, for error messages.
    :param label: the directive as written, e.g. ``t-esc="user.name"``.
    :raises QWebError: on a syntax error.
    """
    try:
        tree = ast.parse(source.strip(), f"<qweb {key}>", "eval")
        if any(isinstance(node, ast.NamedExpr) for node in ast.walk(tree)):
            # it would set a render value from inside an expression, unlike t-set
            raise SyntaxError("assignment expressions (:=) are not allowed in templates")
        return compile(tree, f"<qweb {key}>", "eval")
    except SyntaxError as exc:
        raise directive_error(key, label, exc) from exc


def compile_format(key: str, label: str, source: str) -> list[str | CodeType]:
    """Split a ``t-attf`` style string with ``{{expr}}`` and ``#{expr}`` parts.

    :returns: the literal texts and the compiled expressions, in order; the
        text of an expression's value is given by :func:`to_text`.
    """
    pieces: list[str | CodeType] = []
    end = 0
    for match in _PLACEHOLDER.finditer(source):
        if match.start() > end:
            pieces.append(source[end : match.start()])
        pieces.append(compile_expr(key, label, match.group(1) or match.group(2)))
        end = match.end()
    if end < len(source) or not pieces:
        pieces.append(source[end:])
    return pieces


def to_text(value: Any) -> str:
    """Text of a value in a formatted string: ``None`` and ``False`` mean nothing."""
    return "" if value is None or value is False else str(value)
