"""``ir.model``: the models of the installed addons, as a read-only view.

External clients list models by searching ``ir.model`` (Odoo keeps one row
per model in a table, written as addons load). Here nothing is stored: the
rows are the registry's models, built into a query (``_auto = False``), so
they can never disagree with the code that runs, and search, domains,
ordering and ``read`` work on them as on any model. A row's id is derived
from the model's name (CRC-32), so it is the same in every database and
across installs. Nobody writes it: its access rules give reading only.
"""

from __future__ import annotations

import zlib
from typing import Any

import sqlalchemy as sa

from erpcore.modules.addons import addon_of_module
from erpcore.orm import Model, fields


def model_id(name: str) -> int:
    """The id of the row of the model *name*: stable, and a positive 31-bit integer."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF or 1


class IrModel(Model):
    _name = "ir.model"
    _description = "Model"
    _order = "model"
    _auto = False

    model = fields.Char("Model")
    name = fields.Char("Description")
    #: the addons defining or extending it, in loading order, separated by commas
    modules = fields.Char("In apps")

    @classmethod
    def _table_query(cls) -> Any:
        rows = []
        for name, model in sorted(cls._registry.models.items()):
            addons = dict.fromkeys(addon_of_module(klass.__module__)
                                   for klass in reversed(model.__mro__)
                                   if klass.__dict__.get("_name") or klass.__dict__.get("_inherit"))
            values = {"id": (model_id(name), sa.Integer), "model": (name, sa.String),
                      "name": (model._description or name, sa.String),
                      "modules": (", ".join(addons), sa.String)}
            rows.append(sa.select(*(sa.cast(sa.literal(value, kind), kind).label(column)
                                    for column, (value, kind) in values.items())))
        ids = [model_id(name) for name in cls._registry.models]
        if len(set(ids)) != len(ids):
            raise ValueError("two models have the same ir.model id; rename one")
        return sa.union_all(*rows).subquery("ir_model")
