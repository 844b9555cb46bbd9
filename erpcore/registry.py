"""The registry: everything the installed addons contribute, assembled once.

This is the one module that depends on every part (ORM, addons, HTTP routes,
templates, translations, settings); none of those parts imports it, so there
is no import cycle among them::

    installed addons (dependency order)
        |- models       : classes stacked per _name (``_inherit`` + ``super()``)
        |- tables       : SQLAlchemy metadata built from the fields
        |- routes       : Werkzeug map from the most derived controllers
        |- templates    : QWeb engine with every template and xpath inheritance
        |- translations : gettext catalogues (i18n/*.po)
        |- access rules : ir.model.access.csv
        '- settings     : the settings the addons declare (erpcore.settings)

A registry is immutable. When the set of installed addons changes, the
sequence number in the database moves on, and every process builds a new
registry at its next request (:func:`erpcore.server.Server.registry`).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from babel.messages.pofile import read_po
from sqlalchemy.engine import Connection

from erpcore import db
from erpcore.config import Config
from erpcore.http.routing import build_map
from erpcore.keys import Keyring
from erpcore.modules.addons import Addon, addon_of_module
from erpcore.modules.data import AccessRule, load_access_rules, load_templates
from erpcore.orm import fields
from erpcore.orm.models import BaseModel, model_classes
from erpcore.qweb import QWeb
from erpcore.settings import Settings

_logger = logging.getLogger(__name__)


class RegistryError(Exception):
    """The installed addons do not fit together; the message names the class."""


class Registry:
    def __init__(self, addons: list[Addon], config: Config, keyring: Keyring,
                 database_uuid: str = "", sequence: int = 0):
        self.addons = addons
        self.installed = [a.name for a in addons]
        self.config = config
        self.keyring = keyring
        self.database_uuid = database_uuid
        self.sequence = sequence
        for addon in addons:
            addon.module()
        self.models: dict[str, type[BaseModel]] = {}
        self.metadata = sa.MetaData()
        self._assemble_models()
        self._build_tables()
        self.qweb = QWeb(translate=self.translate)
        self.catalogues: dict[str, dict[str, str]] = {}
        self.access_rules: list[AccessRule] = []
        for addon in addons:
            load_templates(addon, self.qweb)
            self.access_rules.extend(load_access_rules(addon))
            self._load_catalogues(addon)
        self.url_map, self.endpoints = build_map(self.installed)
        #: (path, method) -> (endpoint, arguments) of the rules without variables matched
        #: so far by GET, HEAD or POST: a few per rule, whatever strangers send
        self.static_matches: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.settings = Settings(self.installed)
        self._xmlids: dict[str, tuple[str, int] | None] = {}

    # -- models ----------------------------------------------------------------

    def _assemble_models(self) -> None:
        chains: dict[str, list[type[BaseModel]]] = {}
        by_addon: dict[str, list[type[BaseModel]]] = {}
        for cls in model_classes:
            by_addon.setdefault(addon_of_module(cls.__module__), []).append(cls)
        for addon in self.installed:
            for cls in by_addon.get(addon, []):
                name = cls.__dict__.get("_name") or cls.__dict__.get("_inherit")
                inherit = cls.__dict__.get("_inherit")
                if inherit and inherit != name:
                    raise RegistryError(f"{cls.__qualname__}: _inherit of another _name "
                                        "is not supported")
                if inherit and name not in chains:
                    raise RegistryError(f"{cls.__module__}.{cls.__qualname__} extends "
                                        f"{name!r}, which no installed addon defines")
                if not inherit and name in chains:
                    raise RegistryError(f"{cls.__module__}.{cls.__qualname__} redefines "
                                        f"{name!r}; use _inherit")
                chains.setdefault(name, []).append(cls)
        for name, chain in chains.items():
            attrs = {
                "_name": name,
                "_assembled": True,
                "_registry": self,
                "_statements": {},
                "_table": name.replace(".", "_"),
                "__module__": chain[-1].__module__,
            }
            model = type(name.replace(".", "_"), tuple(reversed(chain)), attrs)
            model._fields = {}
            for klass in reversed(model.__mro__):
                for attr, value in klass.__dict__.items():
                    if isinstance(value, fields.Field):
                        model._fields[attr] = value
            self.models[name] = model

    def _build_tables(self) -> None:
        for model in self.models.values():
            if not model._auto:
                continue  # a view: its rows are _table_query, it has no table
            columns = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)]
            for field in model._fields.values():
                if field.stored:
                    columns.append(field.column(model))
            model._sa_table = sa.Table(model._table, self.metadata, *columns)
        for model in self.models.values():
            for field in model._fields.values():
                if isinstance(field, fields.Many2many):
                    field.relation_table(model, self.metadata)

    def encrypted_fields(self) -> list[tuple[type[BaseModel], fields.Field]]:
        return [(model, field) for model in self.models.values()
                for field in model._fields.values() if isinstance(field, fields.Encrypted)]

    # -- translations ----------------------------------------------------------

    def _load_catalogues(self, addon: Addon) -> None:
        folder = addon.file("i18n")
        if not folder.is_dir():
            return
        for po in sorted(folder.glob("*.po")):
            with po.open("rb") as fh:
                catalog = read_po(fh)
            messages = self.catalogues.setdefault(po.stem, {})
            for message in catalog:
                if message.id and message.string and not message.fuzzy:
                    messages[str(message.id)] = str(message.string)

    @property
    def languages(self) -> list[str]:
        return ["en", *sorted(self.catalogues)]

    def translate(self, lang: str, text: str) -> str:
        return self.catalogues.get(lang, {}).get(text, text)

    # -- external ids and access rules ------------------------------------------

    def xmlid_lookup(self, conn: Connection, xmlid: str) -> tuple[str, int] | None:
        if xmlid not in self._xmlids:
            module, _, name = xmlid.partition(".")
            t = db.model_data_table
            row = conn.execute(
                sa.select(t.c.model, t.c.res_id).where(t.c.module == module, t.c.name == name)
            ).first()
            found = (row.model, row.res_id) if row else None
            if found is None:
                return None  # not cached: it may be created later in this transaction
            self._xmlids[xmlid] = found
        return self._xmlids[xmlid]

    def set_xmlid(self, conn: Connection, xmlid: str, record: BaseModel) -> None:
        module, _, name = xmlid.partition(".")
        conn.execute(sa.insert(db.model_data_table).values(
            module=module, name=name, model=record._name, res_id=record.id))

    def access_allowed(self, conn: Connection, model: str, operation: str,
                       group_ids: frozenset[int]) -> bool:
        ref = "model_" + model.replace(".", "_")
        for rule in self.access_rules:
            if rule.model_ref != ref or operation not in rule.perms:
                continue
            if not rule.group:
                return True
            found = self.xmlid_lookup(conn, rule.group)
            if found and found[1] in group_ids:
                return True
        return False

    def render(self, template: str, values: dict[str, Any], lang: str = "en") -> str:
        return self.qweb.render(template, values, lang)
