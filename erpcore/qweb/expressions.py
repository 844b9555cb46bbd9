"""Compilation of the Python expressions written in directive attributes.

Each expression is compiled once, when its template is compiled; a render only
evaluates the code objects. Templates are trusted addon files, so the small
builtins set is meant to keep templates simple, not to be a sandbox.
"""

import builtins
import re
from collections.abc import Callable
from typing import Any

from .errors import directive_error

Evaluator = Callable[[dict[str, Any]], Any]

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



class _Scope(dict):
    """The render values as evaluation globals; an unknown name is ``None``, as in Odoo.

    A dict subclass makes CPython look names up through ``__getitem__``, so
    ``__missing__`` also serves names used inside comprehensions.
    """

    def __missing__(self, name: str) -> Any:
        return SAFE_BUILTINS.get(name)


_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}|#\{(.+?)\}", re.DOTALL)


def compile_expr(key: str, label: str, source: str) -> Evaluator:
    """Compile ``source`` into a function of the render values.

    :param key: the template key, for error messages.
    :param label: the directive as written, e.g. ``t-esc="user.name"``.
    :raises QWebError: on a syntax error; evaluation errors are raised as
        ``QWebError`` too, when the returned function is called.
    """
    try:
        code = compile(source.strip(), f"<qweb {key}>", "eval")
    except SyntaxError as exc:
        raise directive_error(key, label, exc) from exc

    def evaluate(values: dict[str, Any]) -> Any:
        # Values become globals, not locals, so that comprehensions see them too.
        try:
            return eval(code, _Scope(values, __builtins__=SAFE_BUILTINS))  # noqa: S307 - trusted templates
        except Exception as exc:
            raise directive_error(key, label, exc) from exc

    return evaluate


def compile_format(key: str, label: str, source: str) -> Callable[[dict[str, Any]], str]:
    """Compile a ``t-attf`` style string with ``{{expr}}`` and ``#{expr}`` parts.

    :returns: a function of the render values giving the plain (unescaped) text.
    """
    parts: list[str | Evaluator] = []
    end = 0
    for match in _PLACEHOLDER.finditer(source):
        parts.append(source[end : match.start()])
        parts.append(compile_expr(key, label, match.group(1) or match.group(2)))
        end = match.end()
    parts.append(source[end:])

    def render(values: dict[str, Any]) -> str:
        return "".join(part if isinstance(part, str) else to_text(part(values)) for part in parts)

    return render


def to_text(value: Any) -> str:
    """Text of a value in a formatted string: ``None`` and ``False`` mean nothing."""
    return "" if value is None or value is False else str(value)
