"""The environment: who acts, in which transaction, in which language.

``env["res.users"]`` gives an empty recordset of that model. ``env(su=True)``
and ``env(uid=...)`` give sibling environments that share the transaction and
the record cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from erpcore.db import DriverStatement
from erpcore.keys import SealError
from erpcore.orm.exceptions import AccessError

if TYPE_CHECKING:
    from erpcore.orm.fields import Field
    from erpcore.orm.models import BaseModel
    from erpcore.registry import Registry

SUPERUSER_ID = 1


def _group_ids_query(model: type[BaseModel]) -> DriverStatement:
    rel = model._registry.metadata.tables["res_groups_users_rel"]
    return DriverStatement(sa.select(rel.c.gid).where(rel.c.uid == sa.bindparam("uid")))


class Environment:
    def __init__(self, registry: Registry, conn: Connection, uid: int | None,
                 su: bool = False, context: dict[str, Any] | None = None,
                 _shared: dict[str, Any] | None = None):
        self.registry = registry
        self.conn = conn
        self.uid = uid
        self.su = su
        self.context = context or {}
        #: record rows and group memberships, shared by sibling environments
        self._shared = _shared if _shared is not None else {"rows": {}, "groups": {}}

    def __call__(self, *, uid: int | None | bool = False, su: bool | None = None,
                 context: dict[str, Any] | None = None) -> Environment:
        return Environment(
            self.registry,
            self.conn,
            self.uid if uid is False else uid,
            self.su if su is None else su,
            self.context if context is None else context,
            self._shared,
        )

    def __getitem__(self, model: str) -> BaseModel:
        try:
            cls = self.registry.models[model]
        except KeyError:
            raise KeyError(f"no model {model!r}; is its addon installed?") from None
        return cls(self, ())

    def __contains__(self, model: str) -> bool:
        return model in self.registry.models

    @property
    def user(self) -> BaseModel:
        return self["res.users"].browse(self.uid or ())

    @property
    def lang(self) -> str:
        return self.context.get("lang") or "en"

    @property
    def now(self) -> float | None:
        """The time of the request or command this environment works for, as a timestamp.

        It is the server's clock (which tests inject), read once: code that
        stamps a record or compares with a deadline uses it, never
        ``time.time()``. None outside a request or a command.
        """
        return self.context.get("now")

    @property
    def keyring(self) -> Any:
        return self.registry.keyring

    @property
    def config(self) -> Any:
        """The server's configuration (:class:`erpcore.config.Config`)."""
        return self.registry.config

    def setting(self, key: str) -> Any:
        """The value of the setting *key* that an installed addon declares."""
        return self.registry.settings.get(self.conn, key)

    def _(self, message: str, **params: Any) -> str:
        """*message* translated into this environment's language, then formatted."""
        text = self.registry.translate(self.lang, message)
        return text.format(**params) if params else text

    def ref(self, xmlid: str) -> BaseModel:
        """The record of an external id such as ``base.group_system``."""
        found = self.registry.xmlid_lookup(self.conn, xmlid)
        if found is None:
            raise ValueError(f"no record with external id {xmlid!r}")
        model, res_id = found
        return self[model].browse(res_id)

    # -- access ----------------------------------------------------------------

    def user_group_ids(self) -> frozenset[int]:
        if self.uid is None:
            return frozenset()
        cache = self._shared["groups"]
        if self.uid not in cache:
            statement = self["res.users"]._statement("group_ids", _group_ids_query)
            rows = statement(self.conn, {"uid": self.uid}).rows
            cache[self.uid] = frozenset(gid for (gid,) in rows)
        return cache[self.uid]

    def user_in_any(self, groups: str) -> bool:
        """Whether the user belongs to one of *groups* (comma-separated external ids)."""
        mine = self.user_group_ids()
        for xmlid in groups.split(","):
            found = self.registry.xmlid_lookup(self.conn, xmlid.strip())
            if found and found[1] in mine:
                return True
        return False

    def is_admin(self) -> bool:
        return self.user_in_any("base.group_system")

    def has_model_access(self, model: str, operation: str) -> bool:
        if self.su:
            return True
        return self.registry.access_allowed(self.conn, model, operation, self.user_group_ids())

    def check_admin(self) -> None:
        if not self.su and not self.is_admin():
            raise AccessError("administrators only")

    # -- record cache ----------------------------------------------------------

    def cache_row(self, record: BaseModel) -> dict[str, Any]:
        key = (record._name, record._ids[0])
        rows = self._shared["rows"]
        if key not in rows:
            found = record._row_statement().dicts(self.conn, {"id": key[1]})
            if not found:
                raise ValueError(f"{record._name}({key[1]}) does not exist")
            rows[key] = found[0]
        return rows[key]

    def cached_ids(self, model: str, ids: Iterable[int]) -> set[int]:
        """Those of *ids* whose row of *model* this transaction has read and still holds."""
        rows = self._shared["rows"]
        return {rid for rid in ids if (model, rid) in rows}

    def cache_rows(self, model: str, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Keep whole *rows* of *model* just read; returns their ids, in order."""
        cache = self._shared["rows"]
        ids = []
        for row in rows:
            cache[(model, row["id"])] = dict(row)
            ids.append(row["id"])
        return ids

    def cache_update(self, records: BaseModel, columns: dict[str, Any]) -> None:
        """*columns* (column values, as stored) were just written on *records*: the rows
        held change with them, instead of being read again."""
        rows = self._shared["rows"]
        for rid in records._ids:
            row = rows.get((records._name, rid))
            if row is not None:
                row.update(columns)

    def invalidate(self, records: BaseModel | None = None) -> None:
        rows = self._shared["rows"]
        if records is None:
            rows.clear()
            self._shared["groups"].clear()
            return
        for rid in records._ids:
            rows.pop((records._name, rid), None)
        if records._name in ("res.users", "res.groups"):
            self._shared["groups"].clear()

    # -- sealed fields ---------------------------------------------------------

    def _associated_data(self, record: BaseModel, field: Field) -> str:
        return f"{self.registry.database_uuid}|{record._table}|{record.id}|{field.name}"

    def seal(self, value: str, record: BaseModel, field: Field) -> str:
        return self.keyring.seal(value, self._associated_data(record, field))

    def unseal(self, value: str, record: BaseModel, field: Field) -> str | bool:
        try:
            return self.keyring.unseal(value, self._associated_data(record, field))
        except SealError:
            return False
