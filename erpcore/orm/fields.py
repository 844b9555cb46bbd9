"""Field types: each knows its column, and how values go to and from it.

A field is a descriptor on a model class. Reading it on a record returns the
value (loaded by the record's environment cache), assigning it writes.
``groups`` restricts reading and writing to members of those groups
(comma-separated external ids) unless the environment is superuser.

``secret`` marks a secret or a digest of one (a password hash, a token's
digest, an encrypted value): the generic paths (``read``, ``search_read``,
``fields_get``) never give it out and the external API refuses to read,
search, order by or write it, whoever asks, superuser included. Code that
needs it reads the attribute of a record, as the checks of secrets do.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from erpcore.orm.models import BaseModel


class Field:
    """Base of all fields."""

    #: whether the value lives in a column of the model's table
    stored = True
    #: the type's name in ``fields_get``, as Odoo names it
    type = ""

    def __init__(
        self,
        string: str | None = None,
        *,
        required: bool = False,
        default: Any = None,
        groups: str | None = None,
        index: bool = False,
        secret: bool = False,
    ):
        self.string = string
        self.required = required
        self.default = default
        self.groups = groups
        self.index = index
        self.secret = secret
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- descriptor ------------------------------------------------------------

    def __get__(self, record: BaseModel | None, owner: type) -> Any:
        if record is None:
            return self
        return record._read_field(self)

    def __set__(self, record: BaseModel, value: Any) -> None:
        record.write({self.name: value})

    # -- storage ---------------------------------------------------------------

    def sa_type(self) -> sa.types.TypeEngine:
        raise NotImplementedError

    def column(self, model: type[BaseModel]) -> sa.Column:
        return sa.Column(self.name, self.sa_type(), index=self.index)

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def to_db(self, value: Any) -> Any:
        """The column value for *value*, as given to ``create`` or ``write``."""
        return value

    def from_db(self, value: Any, record: BaseModel) -> Any:
        """The value the user sees for the column value *value*."""
        return value

    def empty(self) -> Any:
        return None

    def describe(self) -> dict[str, Any]:
        """What ``fields_get`` says of the field."""
        return {"type": self.type, "string": self.string or self.name,
                "required": self.required, "readonly": not self.stored,
                "store": self.stored, "searchable": self.stored}


class Char(Field):
    type = "char"

    def __init__(self, string: str | None = None, *, size: int | None = None, **kw: Any):
        super().__init__(string, **kw)
        self.size = size

    def sa_type(self) -> sa.types.TypeEngine:
        return sa.String(self.size) if self.size else sa.Text()

    def to_db(self, value: Any) -> Any:
        return None if value is None or value is False else str(value)

    def from_db(self, value: Any, record: BaseModel) -> Any:
        return value if value is not None else False

    def empty(self) -> Any:
        return False


class Selection(Char):
    type = "selection"

    def __init__(self, selection: list[tuple[str, str]], string: str | None = None, **kw: Any):
        super().__init__(string, **kw)
        self.selection = selection

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "selection": [list(item) for item in self.selection]}

    def to_db(self, value: Any) -> Any:
        if value in (None, False):
            return None
        if value not in {key for key, _label in self.selection}:
            from erpcore.orm.exceptions import ValidationError

            raise ValidationError(f"{value!r} is not a valid choice for {self.name}")
        return value


class Integer(Field):
    type = "integer"

    def sa_type(self) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def to_db(self, value: Any) -> Any:
        return None if value is None or value is False else int(value)

    def from_db(self, value: Any, record: BaseModel) -> Any:
        return value if value is not None else 0

    def empty(self) -> Any:
        return 0


class Boolean(Field):
    type = "boolean"

    def sa_type(self) -> sa.types.TypeEngine:
        return sa.Boolean()

    def to_db(self, value: Any) -> Any:
        return bool(value)

    def from_db(self, value: Any, record: BaseModel) -> Any:
        return bool(value)

    def empty(self) -> Any:
        return False


class Datetime(Field):
    """A naive UTC datetime.

    Given as a datetime, a POSIX timestamp, or text as Odoo writes it
    (``2024-05-31 14:30:00``, UTC; ISO 8601 with an offset is converted).
    """

    type = "datetime"

    def sa_type(self) -> sa.types.TypeEngine:
        return sa.DateTime()

    def to_db(self, value: Any) -> Any:
        if value in (None, False):
            return None
        if isinstance(value, str):
            if len(value) > 40:
                raise ValueError("not a date and time")
            value = dt.datetime.fromisoformat(value.strip())
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def from_db(self, value: Any, record: BaseModel) -> Any:
        return value if value is not None else False

    def empty(self) -> Any:
        return False


class Many2one(Field):
    type = "many2one"

    def __init__(self, comodel: str, string: str | None = None, *, ondelete: str = "SET NULL",
                 **kw: Any):
        super().__init__(string, **kw)
        self.comodel = comodel
        self.ondelete = ondelete

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "relation": self.comodel}

    def column(self, model: type[BaseModel]) -> sa.Column:
        target = model._registry.models[self.comodel]._table
        return sa.Column(
            self.name,
            sa.Integer,
            sa.ForeignKey(f"{target}.id", ondelete=self.ondelete),
            index=True,
        )

    def to_db(self, value: Any) -> Any:
        if value in (None, False):
            return None
        return value.id if hasattr(value, "_ids") else int(value)

    def from_db(self, value: Any, record: BaseModel) -> Any:
        return record.env[self.comodel].browse(value or ())

    def empty(self) -> Any:
        return None


class One2many(Field):
    """The records of *comodel* whose *inverse* Many2one points here (read only)."""

    stored = False
    type = "one2many"

    def __init__(self, comodel: str, inverse: str, string: str | None = None, **kw: Any):
        super().__init__(string, **kw)
        self.comodel = comodel
        self.inverse = inverse

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "relation": self.comodel,
                "relation_field": self.inverse, "searchable": False}

    def load(self, record: BaseModel) -> Any:
        return record.env[self.comodel].search([(self.inverse, "=", record.id)])


class Many2many(Field):
    """A set of *comodel* records, kept in the relation table *relation*."""

    stored = False
    type = "many2many"

    def __init__(self, comodel: str, relation: str, column1: str, column2: str,
                 string: str | None = None, **kw: Any):
        super().__init__(string, **kw)
        self.comodel = comodel
        self.relation = relation
        self.column1 = column1
        self.column2 = column2

    def describe(self) -> dict[str, Any]:
        # kept in a relation table, yet written and searched like a stored field
        return {**super().describe(), "relation": self.comodel, "readonly": False,
                "store": True, "searchable": True}

    def relation_table(self, model: type[BaseModel], metadata: sa.MetaData) -> sa.Table:
        if self.relation in metadata.tables:
            return metadata.tables[self.relation]
        target = model._registry.models[self.comodel]._table
        return sa.Table(
            self.relation,
            metadata,
            sa.Column(self.column1, sa.Integer,
                      sa.ForeignKey(f"{model._table}.id", ondelete="CASCADE"), primary_key=True),
            sa.Column(self.column2, sa.Integer,
                      sa.ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True),
        )


class Encrypted(Field):
    """A text value sealed with the server's field key (see :mod:`erpcore.keys`).

    The associated data names the database, table, row id and field, so a
    value copied to another row or database does not open. Reading a value
    that does not open gives ``False``: the secret is as good as absent.
    Always ``secret``: no generic path gives it out.
    """

    def __init__(self, string: str | None = None, **kw: Any):
        super().__init__(string, **{**kw, "secret": True})

    def sa_type(self) -> sa.types.TypeEngine:
        return sa.Text()

    def from_db(self, value: Any, record: BaseModel) -> Any:
        if not value:
            return False
        return record.env.unseal(value, record, self)

    def empty(self) -> Any:
        return False
