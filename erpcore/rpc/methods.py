"""The model methods the external API offers, with their arguments checked.

``execute_kw(db, uid, password, MODEL, METHOD, args, kwargs)`` calls one of
:data:`METHODS` on the model, as the authenticated user (never superuser):
access rights, record rules and field ``groups`` apply exactly as in the
pages, because the ORM applies them. What this module adds is the external
API's own guard:

* only the methods listed here, with their Odoo signatures (``search(domain,
  offset=0, limit=None, order=None, count=False)``...); the first argument of
  ``read``, ``write`` and ``unlink`` is the ids, as in Odoo;
* ``secret`` fields (:mod:`erpcore.orm.fields`) are refused wherever a call
  could name them: fields to read, domain, order, values to write;
* every argument is checked for its kind before the ORM sees it, so a wrong
  one is a clear message and not a database error.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

from erpcore.orm import AccessError
from erpcore.orm import fields as orm_fields
from erpcore.orm.domains import is_leaf
from erpcore.orm.models import MAX_ID, BaseModel
from erpcore.rpc.errors import AccessRefused, InvalidCall

#: ids in one call, at most (each is one SQL parameter)
MAX_IDS = 10_000
#: records one create makes, at most
MAX_CREATE = 1000
#: longest text a field without a size takes
MAX_TEXT = 100_000
OPERATIONS = ("read", "write", "create", "unlink")


def call(env: Any, model_name: Any, method: Any, args: Any, kwargs: Any) -> Any:
    """Call *method* of *model_name* in *env* with *args* and *kwargs*, checked."""
    if not isinstance(model_name, str) or model_name not in env.registry.models:
        raise InvalidCall(f"unknown model {_short(model_name)}")
    handler = METHODS.get(method) if isinstance(method, str) else None
    if handler is None or (method == "context_get" and model_name != "res.users"):
        offered = ", ".join(name for name in METHODS if name != "context_get")
        raise InvalidCall(f"unknown method {model_name}.{_short(method, bare=True)}; "
                          f"offered: {offered}")
    if not isinstance(args, list):
        raise InvalidCall("args is a list of positional arguments")
    if not isinstance(kwargs, dict):
        raise InvalidCall("kwargs is a struct of named arguments")
    kwargs = dict(kwargs)
    if not isinstance(kwargs.pop("context", None) or {}, dict):
        raise InvalidCall("context is a struct")
    try:
        bound = inspect.signature(handler).bind(env[model_name], *args, **kwargs)
    except TypeError as exc:
        raise InvalidCall(f"{method} takes {signature_of(handler)}: {exc}") from exc
    return handler(*bound.args, **bound.kwargs)


def signature_of(handler: Callable) -> str:
    """The arguments of *handler* as a caller gives them (without the model)."""
    shown = []
    for parameter in list(inspect.signature(handler).parameters.values())[1:]:
        if parameter.kind is parameter.VAR_POSITIONAL:
            shown.append(f"*{parameter.name}")
        elif parameter.default is parameter.empty:
            shown.append(parameter.name)
        else:
            shown.append(f"{parameter.name}={parameter.default!r}")
    return "(" + ", ".join(shown) + ")"


# -- the methods -------------------------------------------------------------------------


def search(model: BaseModel, domain: Any, offset: Any = 0, limit: Any = None,
           order: Any = None, count: Any = False) -> Any:
    domain = _domain(model, domain)
    if count:
        return model.search_count(domain)
    return model.search(domain, order=_order(order), limit=_limit(limit),
                        offset=_offset(offset)).ids


def search_count(model: BaseModel, domain: Any = None, limit: Any = None) -> int:
    found = model.search_count(_domain(model, domain))
    limit = _limit(limit)
    return min(found, limit) if limit else found


def search_read(model: BaseModel, domain: Any = None, fields: Any = None, offset: Any = 0,
                limit: Any = None, order: Any = None) -> list[dict]:
    return model.search_read(_domain(model, domain), _field_names(model, fields),
                             offset=_offset(offset), limit=_limit(limit), order=_order(order))


def read(model: BaseModel, ids: Any, fields: Any = None, load: Any = None) -> list[dict]:
    return _records(model, ids).read(_field_names(model, fields))


def fields_get(model: BaseModel, allfields: Any = None, attributes: Any = None) -> dict:
    return model.fields_get(_names(allfields, "allfields"), _names(attributes, "attributes"))


def create(model: BaseModel, vals: Any) -> Any:
    if isinstance(vals, list):
        if not vals or len(vals) > MAX_CREATE:
            raise InvalidCall(f"create takes one struct of values, or a list of 1 to "
                              f"{MAX_CREATE}")
        return [model.create(_values(model, item)).id for item in vals]
    return model.create(_values(model, vals)).id


def write(model: BaseModel, ids: Any, vals: Any) -> bool:
    return _records(model, ids).write(_values(model, vals))


def unlink(model: BaseModel, ids: Any) -> bool:
    return _records(model, ids).unlink()


def check_access_rights(model: BaseModel, operation: Any, raise_exception: Any = True) -> bool:
    if operation not in OPERATIONS:
        raise InvalidCall(f"operation is one of {', '.join(OPERATIONS)}")
    try:
        model.check_access(operation)
    except AccessError:
        if raise_exception:
            raise
        return False
    return True


def context_get(model: BaseModel) -> dict:
    return model.context_get()


METHODS: dict[str, Callable[..., Any]] = {
    "search": search, "search_count": search_count, "search_read": search_read,
    "read": read, "fields_get": fields_get, "create": create, "write": write,
    "unlink": unlink, "check_access_rights": check_access_rights, "context_get": context_get,
}


# -- checking arguments --------------------------------------------------------------------


def _public_field(model: BaseModel, name: Any) -> orm_fields.Field | None:
    """The field *name* of *model* (None for ``id``): it must exist and not be secret."""
    if name == "id":
        return None
    field = model._fields.get(name) if isinstance(name, str) else None
    if field is None:
        raise InvalidCall(f"unknown field {model._name}.{_short(name, bare=True)}")
    if field.secret:
        raise AccessRefused(f"field {model._name}.{name} is not available through the API")
    return field


def _domain(model: BaseModel, domain: Any) -> list:
    """*domain* (None: every record), its fields checked; the ORM checks the rest."""
    if domain is None or domain is False:
        return []
    if not isinstance(domain, list):
        raise InvalidCall("a domain is a list, such as [('login', '=', 'marie')]")
    for element in domain:
        if is_leaf(element):
            _public_field(model, element[0])
    return domain


def _order(order: Any) -> str | None:
    if order is None or order is False or order == "":
        return None
    if not isinstance(order, str) or len(order) > 256:
        raise InvalidCall("order is a text such as 'name desc, id'")
    return order


def _limit(limit: Any) -> int | None:
    if limit is None or limit is False:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidCall("limit is a whole number, 0 or more")
    return limit or None


def _offset(offset: Any) -> int:
    if offset is None or offset is False:
        return 0
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_ID:
        raise InvalidCall("offset is a whole number, 0 or more")
    return offset


def _names(names: Any, what: str) -> list[str] | None:
    if names is None or names is False:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
            or len(names) > 1000:
        raise InvalidCall(f"{what} is a list of field names")
    return names


def _field_names(model: BaseModel, names: Any) -> list[str] | None:
    names = _names(names, "fields")
    if names:
        for name in names:
            _public_field(model, name)
    return names or None


def _records(model: BaseModel, ids: Any) -> BaseModel:
    if isinstance(ids, int) and not isinstance(ids, bool):
        ids = [ids]
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                        for i in ids):
        raise InvalidCall("ids are a list of record ids (whole numbers)")
    if len(ids) > MAX_IDS:
        raise InvalidCall(f"at most {MAX_IDS} ids in one call")
    return model.browse(list(dict.fromkeys(ids)))


def _values(model: BaseModel, vals: Any) -> dict[str, Any]:
    """*vals* checked field by field: known, not secret, not read only, of the right kind."""
    if not isinstance(vals, dict) or not vals:
        raise InvalidCall("the values are a struct {field: value}")
    checked = {}
    for name, value in vals.items():
        field = _public_field(model, name)
        if field is None or isinstance(field, orm_fields.One2many):
            raise InvalidCall(f"{model._name}.{name} is read only")
        checked[name] = _value(model, field, value)
    return checked


def _value(model: BaseModel, field: orm_fields.Field, value: Any) -> Any:
    where = f"{model._name}.{field.name}"
    if isinstance(field, orm_fields.Many2many):
        return _many2many(model, field, value)
    if isinstance(field, orm_fields.Boolean):
        if not isinstance(value, bool):
            raise InvalidCall(f"{where} is true or false")
        return value
    if value is False or value is None:
        return False
    if isinstance(field, orm_fields.Char):
        if not isinstance(value, str):
            raise InvalidCall(f"{where} is a text")
        if len(value) > (field.size or MAX_TEXT):
            raise InvalidCall(f"{where} is at most {field.size or MAX_TEXT} characters")
        return value
    if isinstance(field, orm_fields.Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidCall(f"{where} is a whole number")
        return value
    if isinstance(field, orm_fields.Datetime):
        try:
            return field.to_db(value) if isinstance(value, str) else _datetime(where, value)
        except (TypeError, ValueError) as exc:
            raise InvalidCall(f"{where} is a date and time, 'YYYY-MM-DD HH:MM:SS' (UTC)") \
                from exc
    if isinstance(field, orm_fields.Many2one):
        return _existing(model, field.comodel, [value], where)[0]
    raise InvalidCall(f"{where} cannot be written through the API")


def _datetime(where: str, value: Any) -> Any:
    if not isinstance(value, dt.datetime):
        raise InvalidCall(f"{where} is a date and time, 'YYYY-MM-DD HH:MM:SS' (UTC)")
    return value


def _many2many(model: BaseModel, field: orm_fields.Many2many, value: Any) -> list[int]:
    """A list of ids, or Odoo's command ``[(6, 0, ids)]`` (replace by these)."""
    where = f"{model._name}.{field.name}"
    if value is False or value is None:
        return []
    if not isinstance(value, list):
        raise InvalidCall(f"{where} is a list of ids, or [(6, 0, ids)]")
    if len(value) == 1 and isinstance(value[0], list):
        command = value[0]
        if len(command) != 3 or command[0] != 6 or not isinstance(command[2], list):
            raise InvalidCall(f"{where}: only the command (6, 0, ids) is supported; "
                              "give the full list of ids")
        value = command[2]
    return _existing(model, field.comodel, value, where)


def _existing(model: BaseModel, comodel: str, ids: list, where: str) -> list[int]:
    if len(ids) > MAX_IDS or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise InvalidCall(f"{where} takes record ids (whole numbers)")
    found = set(model.env[comodel].sudo().browse(ids).exists().ids)
    if set(ids) - found:
        raise InvalidCall(f"{where}: no {comodel} record {sorted(set(ids) - found)[0]}")
    return list(dict.fromkeys(ids))


def _short(value: Any, bare: bool = False) -> str:
    text = value if bare and isinstance(value, str) else repr(value)
    return text if len(text) <= 64 else text[:61] + "..."
