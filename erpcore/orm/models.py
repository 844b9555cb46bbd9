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

Who may do what, when the environment is not superuser:

* access rights (``ir.model.access.csv``): may this user read, write,
  create or unlink records of this model at all (:meth:`check_access`);
* record rules: which records (:meth:`_rule_domain`), applied by the generic
  entry points ``search``, ``search_count``, ``read``, ``write`` and
  ``unlink``, those of the external API;
* field ``groups``: who may read or write a field; ``secret`` fields are given
  out by no generic path at all (:mod:`erpcore.orm.fields`).

Attribute access on a recordset already in hand (``user.login``) is trusted
code's business: the record was found by code that chose its environment.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable

from erpcore.db import DriverStatement
from erpcore.orm import domains, fields
from erpcore.orm.exceptions import AccessError, UserError, ValidationError

if TYPE_CHECKING:
    from erpcore.orm.environment import Environment
    from erpcore.registry import Registry

#: every model class Python has imported, in import order (the registry sorts them by addon)
model_classes: list[type[BaseModel]] = []

#: leaves ``(field, operator, value)`` and the operators ``&``, ``|``, ``!`` (erpcore.orm.domains)
Domain = Sequence[Any]

#: the largest id a primary key holds (an INTEGER column on PostgreSQL)
MAX_ID = 2**31 - 1
#: records one read loads per query (each id is one SQL parameter)
READ_CHUNK = 1000


#: what :meth:`BaseModel._statement` keeps: a SQLAlchemy statement or a driver one
_S = TypeVar("_S")


def _bound(columns: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a statement built with ``bindparam(f"_v_{name}")`` per column
    (a bind parameter may not bear a column's own name in VALUES or SET)."""
    return {f"_v_{name}": value for name, value in columns.items()}


def _by_column(table: sa.Table, values: dict[str, Any]) -> dict[sa.Column, Any]:
    """*values* keyed by the table's columns, for ``values()`` of a statement built once
    per call: its parameters take the columns' types (keyed by name, each would get a
    type of its own, which SQLAlchemy inspects again at every call: measured, 40% of a
    conditional UPDATE's cost)."""
    return {table.c[name]: value for name, value in values.items()}


class BaseModel:
    """A recordset of one model. Subclass :class:`Model`, not this."""

    #: the model's name, such as ``res.users``
    _name: ClassVar[str | None] = None
    #: the name of the model this class extends
    _inherit: ClassVar[str | None] = None
    _description: ClassVar[str] = ""
    _order: ClassVar[str] = "id"
    #: the field that names a record (``display_name``); None: the model's description and id
    _rec_name: ClassVar[str | None] = "name"
    #: False: no table of its own; its rows are :meth:`_table_query` (a read-only view)
    _auto: ClassVar[bool] = True
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
            t = self._source()
            found.update(self._fetch(sa.select(t).where(t.c.id.in_(missing)))._ids)
        return self.browse([i for i in self._ids if i in found])

    # -- statements built once -------------------------------------------------

    @classmethod
    def _statement(cls, key: Hashable, build: Callable[[type[BaseModel]], _S]) -> _S:
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
    def _row_statement(cls) -> DriverStatement:
        """The whole row of the record whose id is bound as ``id`` (read at nearly every
        request, for the user: run on the driver's cursor)."""
        return cls._statement("row", lambda model: DriverStatement(sa.select(
            model._source()).where(model._source().c.id == sa.bindparam("id"))))

    def _fetch(self, statement: Executable | DriverStatement,
               params: dict[str, Any] | None = None) -> BaseModel:
        """The records of the whole rows *statement* selects, kept in the cache."""
        if isinstance(statement, DriverStatement):
            rows: Iterable[Mapping[str, Any]] = statement.dicts(self.env.conn, params)
        else:
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

    def _rule_domain(self, operation: str) -> list:
        """The records of this model the current user may *operation*, as a domain.

        The record rules of the model: ``[]`` (the default) allows every
        record; ``res.users`` allows an ordinary user their own record only.
        A model overrides this method, calling ``super()``, rather than
        declaring rules as data: the few rules the addons need are a line of
        code each, versioned and tested with the model, and a table of rules
        would need an expression language evaluated per user, a new way to
        get access wrong. Never applied to the superuser.
        """
        return []

    def _check_records(self, operation: str) -> None:
        """Raise :class:`AccessError` unless every record exists and the user may
        *operation* it; one query. A missing record and a forbidden one are
        refused alike, so the answer does not tell which ids exist."""
        if self.env.su or not self._ids:
            return
        t = self._source()
        wanted = set(self._ids)
        query = sa.select(t.c.id).where(t.c.id.in_([i for i in wanted if 0 < i <= MAX_ID]),
                                        domains.condition(self, self._rule_domain(operation)))
        found = set(self.env.conn.execute(query).scalars())
        if found != wanted:
            missing = ", ".join(str(i) for i in sorted(wanted - found)[:10])
            raise AccessError(f"{self._name}({missing}): no such record, or you may not "
                              f"{operation} it")

    @classmethod
    def _source(cls) -> Any:
        """What the records are selected from: the model's table, or the view of
        :meth:`_table_query` for a model with ``_auto = False``."""
        if cls._auto:
            return cls._sa_table
        view = cls.__dict__.get("_view")
        if view is None:
            view = cls._view = cls._table_query()
        return view

    @classmethod
    def _table_query(cls) -> Any:
        """The rows of a model with ``_auto = False``: a selectable with an ``id``
        column and a column per field. Built once per registry."""
        raise NotImplementedError(f"{cls._name} has no table and no _table_query")

    def _writable(self) -> sa.Table:
        if not self._auto:
            raise UserError(f"{self._name} is read only")
        return self._sa_table

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

    def _where(self, domain: Domain, operation: str = "read") -> list[Any]:
        """The SQL conditions of *domain*, and of the record rules for *operation*."""
        clauses = [domains.condition(self, domain)]
        if not self.env.su:
            rule = self._rule_domain(operation)
            if rule:
                clauses.append(domains.condition(self, rule))
        return clauses

    def _order_by(self, order: str | None) -> list[Any]:
        """The ORDER BY of *order* (``"name desc, id"``): stored fields only."""
        t = self._source()
        clauses = []
        for part in (order or self._order).split(","):
            name, _, direction = part.strip().partition(" ")
            direction = direction.strip().lower()
            field = self._fields.get(name)
            if name != "id" and (field is None or not field.stored or field.secret
                                 or isinstance(field, fields.Encrypted)):
                raise domains.DomainError(f"cannot order {self._name} by {name[:64]!r}")
            if direction not in ("", "asc", "desc"):
                raise domains.DomainError(f"an order is 'FIELD', 'FIELD asc' or 'FIELD desc', "
                                          f"not {part.strip()[:64]!r}")
            if field is not None:
                self._check_field_access(field)
            column = t.c[name]
            clauses.append(column.desc() if direction == "desc" else column.asc())
        return clauses

    def search(self, domain: Domain = (), order: str | None = None,
               limit: int | None = None, offset: int = 0) -> BaseModel:
        self.check_access("read")
        t = self._source()
        query = sa.select(t.c.id).where(*self._where(domain)).order_by(*self._order_by(order))
        if limit:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        return self.browse(list(self.env.conn.execute(query).scalars()))

    def search_count(self, domain: Domain = ()) -> int:
        self.check_access("read")
        t = self._source()
        query = sa.select(sa.func.count()).select_from(t).where(*self._where(domain))
        return self.env.conn.execute(query).scalar_one()

    # -- generic reads (the external API's) --------------------------------------

    def _readable_fields(self, names: Sequence[str] | None) -> list[fields.Field]:
        """The fields *names* (all when None), checked for a generic read.

        Unnamed, every field the user may read but the ``secret`` ones; named,
        an unknown, secret or restricted field is an error.
        """
        if names is None:
            return [f for f in self._fields.values() if not f.secret and (
                self.env.su or not f.groups or self.env.user_in_any(f.groups))]
        chosen = []
        for name in dict.fromkeys(names):
            if name == "id":
                continue
            field = self._fields.get(name)
            if field is None:
                raise domains.DomainError(f"unknown field {self._name}.{str(name)[:64]}")
            if field.secret:
                raise AccessError(f"field {self._name}.{name} is never given out")
            self._check_field_access(field)
            chosen.append(field)
        return chosen

    def read(self, fields_: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The values of *fields_* (all readable ones when None) of each record, with its id.

        As Odoo gives them: a Many2one as ``(id, name)`` or False, a
        One2many or Many2many as a list of ids, an empty value as False.
        """
        self.check_access("read")
        self._check_records("read")
        chosen = self._readable_fields(fields_)
        self._prefetch()
        rows = [{"id": rec.id} for rec in self]
        for field in chosen:
            values = self._read_column(field)
            for row, value in zip(rows, values, strict=True):
                row[field.name] = value
        return rows

    def _prefetch(self) -> None:
        """Load the rows of every record in a few queries, into the record cache."""
        cache = self.env._shared["rows"]
        missing = [i for i in dict.fromkeys(self._ids) if (self._name, i) not in cache]
        t = self._source()
        for start in range(0, len(missing), READ_CHUNK):
            chunk = missing[start:start + READ_CHUNK]
            for row in self.env.conn.execute(sa.select(t).where(t.c.id.in_(chunk))).mappings():
                cache[(self._name, row["id"])] = dict(row)

    def _read_column(self, field: fields.Field) -> list[Any]:
        """The value of *field* for each record, in the form :meth:`read` gives."""
        if isinstance(field, (fields.One2many, fields.Many2many)):
            return [sorted(rec._read_field(field).ids) for rec in self]
        values = [rec._read_field(field) for rec in self]
        if isinstance(field, fields.Many2one):
            targets = self.env[field.comodel].browse([v.id for v in values if v])
            names = dict(targets.display_names())
            return [(v.id, names.get(v.id, "")) if v else False for v in values]
        return [False if value is None else value for value in values]

    def display_names(self) -> list[tuple[int, str]]:
        """(id, name) of each record: its ``_rec_name`` field, read as superuser,
        else the model's description and id (what a Many2one shows)."""
        records = self.sudo().exists()
        field = self._fields.get(self._rec_name or "")
        if field is None:
            label = self._description or self._name
            return [(rec.id, f"{label} {rec.id}") for rec in records]
        records._prefetch()
        return [(rec.id, rec._read_field(field) or "") for rec in records]

    def search_read(self, domain: Domain = (), fields_: Sequence[str] | None = None,
                    offset: int = 0, limit: int | None = None,
                    order: str | None = None) -> list[dict[str, Any]]:
        return self.search(domain, order=order, limit=limit, offset=offset).read(fields_)

    def fields_get(self, allfields: Sequence[str] | None = None,
                   attributes: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """What each field the user may read is: type, label, relation... (``secret``
        fields are left out, as are fields the user's groups do not reach)."""
        self.check_access("read")
        described = {"id": {"type": "integer", "string": "ID", "required": False,
                            "readonly": True, "store": True, "searchable": True}}
        for field in self._readable_fields(None):
            described[field.name] = field.describe()
        if allfields:
            described = {name: value for name, value in described.items() if name in allfields}
        if attributes:
            described = {name: {k: v for k, v in value.items() if k in attributes}
                         for name, value in described.items()}
        return described

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
        self._writable()  # a read-only model refuses
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
        statement = self._statement(("create", names), lambda model: DriverStatement(
            sa.insert(model._sa_table).values(
                {name: sa.bindparam(f"_v_{name}") for name in names},
            ).returning(model._sa_table.c.id)))
        ((new_id,),) = statement(self.env.conn, _bound(columns)).rows
        record = self.browse(new_id)
        record._write_sealed(sealed)
        record._write_relations(relations)
        return record

    def write(self, vals: dict[str, Any]) -> bool:
        if not self._ids:
            return True
        self.check_access("write")
        self._writable()  # a read-only model refuses
        self._check_records("write")
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
            self.env.conn.execute(sa.update(t).where(t.c.id.in_(self._ids)).values(
                _by_column(t, columns)))
            return
        names = tuple(columns)
        statement = self._statement(("write", names), lambda model: DriverStatement(
            sa.update(model._sa_table).where(model._sa_table.c.id == sa.bindparam("_id")).values(
                {name: sa.bindparam(f"_v_{name}") for name in names})))
        statement(self.env.conn, {"_id": self._ids[0], **_bound(columns)})

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
        t = self._writable()
        bound = None if not self.env.su and self._rule_domain("write") \
            else domains.parameters(self, domain)
        if bound is None:  # built for this call
            query = sa.update(t).where(t.c.id == self._ids[0], *self._where(
                domain, "write")).values(_by_column(t, columns))
            changed = self.env.conn.execute(query).rowcount == 1
        else:  # built once per shape of domain and columns written
            shape, values = bound
            names = tuple(columns)
            statement = self._statement(("write_if", shape, names), lambda model: DriverStatement(
                sa.update(model._sa_table).where(
                    model._sa_table.c.id == sa.bindparam("_id"),
                    domains.bound_condition(model, shape),
                ).values({name: sa.bindparam(f"_v_{name}") for name in names})))
            changed = statement(
                self.env.conn, {"_id": self._ids[0], **values, **_bound(columns)}).rowcount == 1
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
            self.env.conn.execute(sa.update(t).where(t.c.id == record.id).values(
                _by_column(t, values)))

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
        t = self._writable()
        deleted = self.env.conn.execute(sa.delete(t).where(
            t.c.id == self._ids[0], *self._where([], "unlink"))).rowcount
        self.env.invalidate()  # cascades may have deleted or changed other rows held
        return deleted == 1

    def unlink(self) -> bool:
        if not self._ids:
            return True
        self.check_access("unlink")
        t = self._writable()
        self._check_records("unlink")
        self.env.conn.execute(sa.delete(t).where(t.c.id.in_(self._ids)))
        self.env.invalidate()  # cascades may have deleted or changed other rows held
        return True


class Model(BaseModel):
    """Base class of every model defined or extended by an addon."""
