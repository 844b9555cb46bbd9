"""Domains as Odoo writes them, checked and turned into one SQL condition.

A domain is a list of leaves ``(field, operator, value)`` and of the prefix
operators ``"&"`` (and), ``"|"`` (or) and ``"!"`` (not), in Polish notation::

    ["|", ("login", "=", "marie"), "!", ("active", "=", True)]
    # login = 'marie' OR NOT active

Leaves side by side are joined by an implicit ``&``. The domain is read from
its end with a stack, so a long domain costs no Python recursion; its length
is bounded (:data:`MAX_ELEMENTS`) because the SQL compiler does recurse over
the condition it builds.

Values are checked against the field before any SQL is built: a domain that
comes from the external API may hold anything JSON or XML-RPC can carry, and
a wrong type must be a clear :class:`DomainError`, not a database error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from erpcore.orm import fields

if TYPE_CHECKING:
    from erpcore.orm.models import BaseModel

#: leaves and operators of one domain at most
MAX_ELEMENTS = 500
#: values of one ``in`` or ``not in`` leaf at most (each is one SQL parameter)
MAX_VALUES = 10_000
#: the range of integers a column compares with (64-bit)
INT_RANGE = (-(2**63), 2**63 - 1)

AND, OR, NOT = "&", "|", "!"


def _like(pattern: str) -> str:
    return f"%{pattern}%"


OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda c, v: c.is_(None) if v is None else c == v,
    "!=": lambda c, v: c.isnot(None) if v is None else c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "in": lambda c, v: c.in_(v),
    "not in": lambda c, v: c.not_in(v),
    "like": lambda c, v: c.like(_like(v)),
    "ilike": lambda c, v: c.ilike(_like(v)),
}


class DomainError(ValueError):
    """A domain is malformed, or names a field or value it cannot use; one clear line."""


def is_leaf(element: Any) -> bool:
    return isinstance(element, (list, tuple)) and len(element) == 3


def condition(model: BaseModel, domain: Any) -> Any:
    """The SQL condition of *domain* on *model* (``sa.true()`` for an empty domain).

    Fields restricted by ``groups`` are checked like a read of them
    (:meth:`BaseModel._check_field_access`).

    :raises DomainError: for a malformed domain or a value of the wrong kind.
    """
    if not isinstance(domain, (list, tuple)):
        raise DomainError("a domain is a list of (field, operator, value) leaves and "
                          "of the operators '&', '|', '!'")
    if len(domain) > MAX_ELEMENTS:
        raise DomainError(f"a domain has at most {MAX_ELEMENTS} elements")
    stack: list[Any] = []
    for element in reversed(domain):
        if element in (AND, OR):
            if len(stack) < 2:
                raise DomainError(f"operator {element!r} needs two operands after it")
            left, right = stack.pop(), stack.pop()
            stack.append(sa.and_(left, right) if element == AND else sa.or_(left, right))
        elif element == NOT:
            if not stack:
                raise DomainError("operator '!' needs an operand after it")
            stack.append(sa.not_(stack.pop()))
        elif is_leaf(element):
            stack.append(leaf(model, *element))
        else:
            raise DomainError(f"{_show(element)} is neither a leaf (field, operator, value) "
                              "nor one of '&', '|', '!'")
    return sa.and_(sa.true(), *reversed(stack))


#: the operators a domain built once with bound values may use (:func:`parameters`)
_BOUND_OPERATORS = frozenset(("=", "!=", "<", "<=", ">", ">="))


def parameters(model: BaseModel, domain: Any) -> tuple[tuple[tuple[str, str], ...],
                                                        dict[str, Any]] | None:
    """A domain of comparisons of plain fields with values, as a shape and parameters.

    For a statement built once per shape (:func:`bound_condition`) rather
    than at each call. The values are checked as :func:`condition` checks
    them, and named ``_d0``, ``_d1``... in the order of the leaves. Any other
    domain (operators, ``in``, ``like``, False/None, a boolean or relational
    field) gives None: build its condition with :func:`condition`.

    :raises DomainError: as :func:`condition` does (an unknown field, a value of the
        wrong kind).
    """
    if not isinstance(domain, (list, tuple)) or not 0 < len(domain) <= MAX_ELEMENTS:
        return None
    shape, values = [], {}
    for index, element in enumerate(domain):
        if not is_leaf(element) or not isinstance(element[1], str) \
                or element[1] not in _BOUND_OPERATORS:
            return None
        field, checked = _checked(model, *element)
        if checked is None or (field is not None and (not field.stored or isinstance(
                field, (fields.Many2many, fields.Boolean)))):
            return None
        shape.append((element[0], element[1]))
        values[f"_d{index}"] = checked
    return tuple(shape), values


def bound_condition(model: type[BaseModel], shape: tuple[tuple[str, str], ...]) -> Any:
    """The condition of the domains of *shape* (:func:`parameters`), values bound."""
    table = model._source()
    return sa.and_(*(OPERATORS[operator](table.c[name], sa.bindparam(
        f"_d{index}", type_=table.c[name].type)) for index, (name, operator) in enumerate(shape)))


def leaf(model: BaseModel, name: Any, operator: Any, value: Any) -> Any:
    """The SQL condition of one leaf."""
    field, value = _checked(model, name, operator, value)
    table = model._source()
    if field is None:  # the id
        return OPERATORS[operator](table.c.id, value)
    if isinstance(field, fields.Many2many):
        return _many2many(model, field, operator, value)
    if isinstance(field, fields.Boolean) and operator in ("=", "!="):
        return _boolean(table.c[name], (value is True) == (operator == "="))
    return OPERATORS[operator](table.c[name], value)


def _checked(model: BaseModel, name: Any, operator: Any, value: Any
             ) -> tuple[fields.Field | None, Any]:
    """The field of a leaf (None for ``id``) and its value checked for it.

    :raises DomainError: for a malformed leaf, an unknown or unsearchable
        field, or a value of the wrong kind.
    """
    if not isinstance(name, str) or not isinstance(operator, str):
        raise DomainError(f"in the leaf {_show((name, operator, value))}, the field and the "
                          "operator are strings")
    if operator not in OPERATORS:
        raise DomainError(f"unknown domain operator {operator[:20]!r}; use one of "
                          + ", ".join(OPERATORS))
    if name == "id":
        return None, _value(model, "id", None, operator, value)
    field = model._fields.get(name)
    if field is None:
        raise DomainError(f"unknown field {model._name}.{name[:64]}")
    model._check_field_access(field)
    if isinstance(field, (fields.One2many, fields.Encrypted)):
        raise DomainError(f"{model._name}.{name} cannot be searched")
    return field, _value(model, name, field, operator, value)


def _boolean(column: Any, wanted: bool) -> Any:
    """A boolean column compared as Odoo does: an empty (NULL) value counts as false."""
    return column.is_(True) if wanted else sa.or_(column.is_(False), column.is_(None))


def _many2many(model: BaseModel, field: fields.Many2many, operator: str, value: Any) -> Any:
    if operator not in ("=", "!=", "in", "not in"):
        raise DomainError(f"{model._name}.{field.name} is searched with =, !=, in, not in")
    values = value if isinstance(value, list) else [value]
    rel = model._registry.metadata.tables[field.relation]
    ids = model._source().c.id
    if values == [None]:  # = False: no related record at all
        sub = sa.select(rel.c[field.column1])
        return ids.not_in(sub) if operator in ("=", "in") else ids.in_(sub)
    sub = sa.select(rel.c[field.column1]).where(rel.c[field.column2].in_(values))
    return ids.in_(sub) if operator in ("=", "in") else ids.not_in(sub)


def _value(model: BaseModel, name: str, field: fields.Field | None, operator: str,
           value: Any) -> Any:
    """*value* checked for *field* and *operator*, in the form its column compares with."""
    where = f"in ({name!r}, {operator!r}, ...) on {model._name}"
    if operator in ("in", "not in"):
        if not isinstance(value, (list, tuple)):
            raise DomainError(f"{where}: the value is a list")
        if len(value) > MAX_VALUES:
            raise DomainError(f"{where}: at most {MAX_VALUES} values")
        return [_scalar(where, field, item) for item in value]
    if operator in ("like", "ilike"):
        if not isinstance(value, str):
            raise DomainError(f"{where}: the value is a string")
        return _text(where, value)
    if hasattr(value, "_ids"):  # a recordset given by Python code
        value = value.id
    checked = _scalar(where, field, value)
    if checked is None and operator not in ("=", "!="):
        raise DomainError(f"{where}: False or None compares with = and != only")
    return checked


def _scalar(where: str, field: fields.Field | None, value: Any) -> Any:
    """One value: None for False/None, else of the kind the field's column holds."""
    if value is None or (value is False and not isinstance(field, fields.Boolean)):
        return None
    if hasattr(value, "_ids"):
        value = value.id
    if field is None or isinstance(field, (fields.Integer, fields.Many2one, fields.Many2many)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DomainError(f"{where}: {_show(value)} is not an integer")
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise DomainError(f"{where}: {_show(value)} is out of range")
        return value
    if isinstance(field, fields.Boolean):
        if not isinstance(value, bool):
            raise DomainError(f"{where}: {_show(value)} is not true or false")
        return value
    if isinstance(field, fields.Datetime):
        try:
            return field.to_db(value)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise DomainError(f"{where}: {_show(value)} is not a date and time "
                              "(YYYY-MM-DD HH:MM:SS, UTC)") from exc
    if isinstance(value, bool) or not isinstance(value, (str, int, float, dt.datetime)):
        raise DomainError(f"{where}: {_show(value)} is not a text")
    return _text(where, str(value))


def _text(where: str, value: str) -> str:
    if "\x00" in value:
        raise DomainError(f"{where}: a NUL character cannot be searched")
    return value


def _show(value: Any) -> str:
    """*value* as a short text for a message (the start of a long one)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
