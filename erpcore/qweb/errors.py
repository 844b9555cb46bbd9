"""The single error type raised by the QWeb engine."""


class QWebError(Exception):
    """Any template problem: unknown key, bad expression, failed render, bad inheritance.

    Messages name the template key and the directive at fault so a failure in a
    deeply nested ``t-call`` can be located, but they never include the render
    values, which may hold secrets (passwords, tokens) that must not reach logs.
    """


def directive_error(key: str, label: str, exc: BaseException) -> QWebError:
    """Build the error for a failing directive, e.g. ``t-esc="user.name"``.

    :param key: the template being compiled or rendered.
    :param label: the directive as written in the template.
    :param exc: the original exception; the caller chains it with ``from``.
    """
    kind = "" if isinstance(exc, QWebError) else f"{type(exc).__name__}: "
    return QWebError(f"template {key!r}: error in {label}: {kind}{exc}")
