"""Models and recordsets, the Odoo way, kept to what addons need.

A model is a class with ``_name``; an addon extends it with a class that sets
``_inherit`` to that name and calls ``super()``. The registry
(:mod:`erpcore.registry`) stacks those classes in dependency order into
the class that is actually used. Every class is recorded here, with the addon
that defined it, when Python imports it.

A recordset is an environment plus a tuple of ids::

    users = env["res.users"].search([("active", "=", True)])
    for user in users:
        user.write({"name": user.name.title()})
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable

from erpcore.orm import fields
from erpcore.orm.exceptions import AccessError, ValidationError

if TYPE_CHECKING:
    from erpcore.orm.environment import Environment
    from erpcore.registry import Registry

#: every model class Python has imported, in import order (the registry sorts them by addon)
model_classes: list[type[BaseModel]] = []

Domain = Sequence[tuple[str, str, Any]]

#: the largest id a primary key holds (an INTEGER column on PostgreSQL)
MAX_ID = 2**31 - 1

_OPERATORS = {
    "=": lambda c, v: c.is_(None) if v is None or v is False else c == v,
    "!=": lambda c, v: c.isnot(None) if v is None or v is False else c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "in": lambda c, v: c.in_(list(v)),
    "not in": lambda c, v: c.not_in(list(v)),
    "like": lambda c, v: c.like(f"%{v}%"),
    "ilike": lambda c, v: c.ilike(f"%{v}%"),
}


def _bound(columns: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a statement built with ``bindparam(f"_v_{name}")`` per column
    (a bind parameter may not bear a column's own name in VALUES or SET)."""
    return {f"_v_{name}": value for name, value in columns.items()}


class BaseModel:
    """A recordset of one model. Subclass :class:`Model`, not this."""

    #: the model's name, such as ``res.users``
    _name: ClassVar[str | None] = None
    #: the name of the model this class extends
    _inherit: ClassVar[str | None] = None
    _description: ClassVar[str] = ""
    _order: ClassVar[str] = "id"
    # set by the registry on the assembled class
    _registry: ClassVar[Registry]
    _table: ClassVar[str]
    _fields: ClassVar[dict[str, fields.Field]]
    _sa_table: ClassVar[sa.Table]
    #: statements built once for this registry's table (:meth:`_statement`)
    _statements: ClassVar[dict[Hashable, Executable]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_assembled"):
            return
        if "_name" not in cls.__dict__ and "_inherit" not in cls.__dict__:
            return  # an abstract helper base, not a model
        model_classes.append(cls)

    def __init__(self, env: Environment, ids: tuple[int, ...] = ()):
        self.env = env
        self._ids = ids

    # -- recordset basics ------------------------------------------------------

    @property
    def ids(self) -> list[int]:
        return list(self._ids)

    @property
    def id(self) -> int | bool:
        if not self._ids:
            return False
        self.ensure_one()
        return self._ids[0]

    def __iter__(self) -> Iterator[BaseModel]:
        for rid in self._ids:
            yield type(self)(self.env, (rid,))

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, index: int | slice) -> BaseModel:
        """``records[0]`` is a one-record recordset, ``records[1:]`` a recordset."""
        ids = self._ids[index]
        return type(self)(self.env, ids if isinstance(index, slice) else (ids,))

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BaseModel) and other._name == self._name
                and set(other._ids) == set(self._ids))

    def __hash__(self) -> int:
        return hash((self._name, frozenset(self._ids)))

    def __repr__(self) -> str:
        return f"{self._name}{self._ids!r}"

    def ensure_one(self) -> BaseModel:
        if len(self._ids) != 1:
            raise ValueError(f"expected one {self._name} record, got {len(self._ids)}")
        return self

    def browse(self, ids: int | Sequence[int] = ()) -> BaseModel:
        if isinstance(ids, int):
            ids = (ids,)
        return type(self)(self.env, tuple(int(i) for i in ids))

    def sudo(self, flag: bool = True) -> BaseModel:
        return type(self)(self.env(su=flag), self._ids)

    def exists(self) -> BaseModel:
        """The records of this recordset still in the database, as this transaction saw it.

        A row this transaction has read (and not deleted) counts; the others are
        read now, whole, into the cache, so that the fields read next send no
        statement. Ids no primary key can hold (an id taken from a URL or a
        form, say) are simply absent, rather than an error of the database.
        """
        candidates = [i for i in self._ids if 0 < i <= MAX_ID]
        found = self.env.cached_ids(self._name, candidates)
        missing = [i for i in dict.fromkeys(candidates) if i not in found]
        if len(missing) == 1:
            found.update(self._fetch(self._row_statement(), {"id": missing[0]})._ids)
        elif missing:
            t = self._sa_table
            found.update(self._fetch(sa.select(t).where(t.c.id.in_(missing)))._ids)
        return self.browse([i for i in self._ids if i in found])

    # -- statements built once -------------------------------------------------

    @classmethod
    def _statement(cls, key: Hashable, build: Callable[[type[BaseModel]], Executable]
                   ) -> Executable:
        """The statement *key* of this model, made by ``build(cls)`` once per registry.

        Building a SQLAlchemy statement costs several times what running a
        simple one does (bench/request_cost.py): the statements sent at every
        request are built once, with bind parameters, then only executed.
        They belong to the assembled class, so to one registry and its tables.
        """
        try:
            return cls._statements[key]
        except KeyError:
            statement = cls._statements[key] = build(cls)
            return statement

    @classmethod
    def _row_statement(cls) -> Executable:
        """The whole row of the record whose id is bound as ``id``."""
        return cls._statement("row", lambda model: sa.select(model._sa_table).where(
            model._sa_table.c.id == sa.bindparam("id")))

    def _fetch(self, statement: Executable, params: dict[str, Any] | None = None
               ) -> BaseModel:
        """The records of the whole rows *statement* selects, kept in the cache."""
        rows = self.env.conn.execute(statement, params).mappings()
        return self.browse(self.env.cache_rows(self._name, rows))

    def mapped(self, name: str) -> list[Any]:
        return [getattr(rec, name) for rec in self]

    # -- access ----------------------------------------------------------------

    def check_access(self, operation: str) -> None:
        """Raise :class:`AccessError` unless the user may *operation* this model."""
        if not self.env.has_model_access(self._name, operation):
            raise AccessError(f"you may not {operation} {self._description or self._name}")

    def _check_field_access(self, field: fields.Field) -> None:
        if field.groups and not self.env.su and not self.env.user_in_any(field.groups):
            raise AccessError(f"field {self._name}.{field.name} is restricted")

    # -- reading ---------------------------------------------------------------

    def _read_field(self, field: fields.Field) -> Any:
        if not self._ids:
            return field.empty()
        self.ensure_one()
        self._check_field_access(field)
        if isinstance(field, fields.One2many):
            return field.load(self)
        if isinstance(field, fields.Many2many):
            rel = self._registry.metadata.tables[field.relation]
            ids = self.env.conn.execute(
                sa.select(rel.c[field.column2]).where(rel.c[field.column1] == self._ids[0])
            ).scalars()
            return self.env[field.comodel].browse(sorted(ids))
        row = self.env.cache_row(self)
        return field.from_db(row[field.name], self)

    def _where(self, domain: Domain) -> list[Any]:
        t = self._sa_table
        clauses = []
        for item in domain:
            name, op, value = item
            if op not in _OPERATORS:
                raise ValueError(f"unknown domain operator {op!r}")
            if name != "id" and name not in self._fields:
                raise ValueError(f"unknown field {self._name}.{name}")
            field = self._fields.get(name)
            if field is not None:
                self._check_field_access(field)
                if isinstance(field, fields.Many2many):
                    rel = self._registry.metadata.tables[field.relation]
                    values = value if isinstance(value, (list, tuple)) else [value]
                    sub = sa.select(rel.c[field.column1]).where(rel.c[field.column2].in_(values))
                    clauses.append(t.c.id.in_(sub) if op in ("=", "in") else t.c.id.not_in(sub))
                    continue
                if isinstance(value, BaseModel):
                    value = value.id
                elif isinstance(field, fields.Datetime) and value not in (None, False):
                    value = field.to_db(value)  # compared as stored: naive UTC
            clauses.append(_OPERATORS[op](t.c[name], value))
        return clauses

    def search(self, domain: Domain = (), order: str | None = None,
               limit: int | None = None) -> BaseModel:
        self.check_access("read")
        t = self._sa_table
        query = sa.select(t.c.id).where(*self._where(domain))
        for part in (order or self._order).split(","):
            name, _, direction = part.strip().partition(" ")
            column = t.c[name]
            query = query.order_by(column.desc() if direction.lower() == "desc" else column)
        if limit:
            query = query.limit(limit)
        return self.browse(list(self.env.conn.execute(query).scalars()))

    def search_count(self, domain: Domain = ()) -> int:
        self.check_access("read")
        t = self._sa_table
        query = sa.select(sa.func.count()).select_from(t).where(*self._where(domain))
        return self.env.conn.execute(query).scalar_one()

    # -- writing ---------------------------------------------------------------

    def _split_values(self, vals: dict[str, Any]) -> tuple[dict, dict, dict]:
        """Column values, encrypted values and relation values of *vals*."""
        columns: dict[str, Any] = {}
        sealed: dict[str, Any] = {}
        relations: dict[str, Any] = {}
        for name, value in vals.items():
            field = self._fields.get(name)
            if field is None:
                raise ValueError(f"unknown field {self._name}.{name}")
            self._check_field_access(field)
            if isinstance(field, fields.Many2many):
                relations[name] = value
            elif isinstance(field, fields.Encrypted):
                sealed[name] = value
            elif isinstance(field, fields.One2many):
                raise ValueError(f"{self._name}.{name} is read only")
            else:
                columns[name] = field.to_db(value)
        return columns, sealed, relations

    def create(self, vals: dict[str, Any]) -> BaseModel:
        self.check_access("create")
        full = {}
        for name, field in self._fields.items():
            if name not in vals and field.default is not None:
                full[name] = field.default_value()
        full.update(vals)
        for name, field in self._fields.items():
            if field.required and full.get(name) in (None, False, ""):
                raise ValidationError(f"{field.string or name} is required")
        columns, sealed, relations = self._split_values(full)
        names = tuple(columns)
        statement = self._statement(("create", names), lambda model: sa.insert(
            model._sa_table).values({name: sa.bindparam(f"_v_{name}") for name in names}))
        result = self.env.conn.execute(statement, _bound(columns))
        record = self.browse(result.inserted_primary_key[0])
        record._write_sealed(sealed)
        record._write_relations(relations)
        return record

    def write(self, vals: dict[str, Any]) -> bool:
        if not self._ids:
            return True
        self.check_access("write")
        for name, field in self._fields.items():
            if field.required and name in vals and vals[name] in (None, False, ""):
                raise ValidationError(f"{field.string or name} is required")
        columns, sealed, relations = self._split_values(vals)
        if columns:
            self._write_columns(columns)
        self._write_sealed(sealed)
        self._write_relations(relations)
        if sealed or relations:
            self.env.invalidate(self)
        else:  # the rows held are as written: the fields read next send no statement
            self.env.cache_update(self, columns)
        return True

    def _write_columns(self, columns: dict[str, Any]) -> None:
        t = self._sa_table
        if len(self._ids) > 1:
            self.env.conn.execute(sa.update(t).where(t.c.id.in_(self._ids)).values(**columns))
            return
        names = tuple(columns)
        statement = self._statement(("write", names), lambda model: sa.update(
            model._sa_table).where(model._sa_table.c.id == sa.bindparam("_id")).values(
            {name: sa.bindparam(f"_v_{name}") for name in names}))
        self.env.conn.execute(statement, {"_id": self._ids[0], **_bound(columns)})

    def _write_if(self, domain: Domain, vals: dict[str, Any]) -> bool:
        """Write *vals* only if the record still matches *domain*, atomically.

        One conditional UPDATE: when several transactions race, exactly the
        ones that found the condition true change the row, so this is the
        primitive for "accept once" checks. Returns whether the row changed.
        """
        self.ensure_one()
        self.check_access("write")
        columns, sealed, relations = self._split_values(vals)
        if sealed or relations:
            raise ValueError("_write_if takes plain column values only")
        t = self._sa_table
        query = sa.update(t).where(t.c.id == self._ids[0], *self._where(domain)).values(**columns)
        changed = self.env.conn.execute(query).rowcount == 1
        if changed:
            self.env.cache_update(self, columns)
        else:  # the row is not what this transaction last saw
            self.env.invalidate(self)
        return changed

    def _write_sealed(self, sealed: dict[str, Any]) -> None:
        if not sealed:
            return
        t = self._sa_table
        for record in self:
            values = {
                name: (record.env.seal(value, record, self._fields[name]) if value else None)
                for name, value in sealed.items()
            }
            self.env.conn.execute(sa.update(t).where(t.c.id == record.id).values(**values))

    def _write_relations(self, relations: dict[str, Any]) -> None:
        for name, value in relations.items():
            field = self._fields[name]
            rel = self._registry.metadata.tables[field.relation]
            ids = value.ids if isinstance(value, BaseModel) else [int(v) for v in value or ()]
            for rid in self._ids:
                self.env.conn.execute(sa.delete(rel).where(rel.c[field.column1] == rid))
                for target in dict.fromkeys(ids):
                    self.env.conn.execute(
                        sa.insert(rel).values({field.column1: rid, field.column2: target})
                    )

    def _unlink_once(self) -> bool:
        """Delete this record if it is still there; whether this very call deleted it.

        One conditional DELETE: of transactions racing to consume the same
        record (a wizard submitted twice), exactly one gets True.
        """
        self.ensure_one()
        self.check_access("unlink")
        statement = self._statement("unlink_one", lambda model: sa.delete(
            model._sa_table).where(model._sa_table.c.id == sa.bindparam("id")))
        deleted = self.env.conn.execute(statement, {"id": self._ids[0]}).rowcount
        self.env.invalidate()  # cascades may have deleted or changed other rows held
        return deleted == 1

    def unlink(self) -> bool:
        if not self._ids:
            return True
        self.check_access("unlink")
        t = self._sa_table
        self.env.conn.execute(sa.delete(t).where(t.c.id.in_(self._ids)))
        self.env.invalidate()  # cascades may have deleted or changed other rows held
        return True


class Model(BaseModel):
    """Base class of every model defined or extended by an addon."""
