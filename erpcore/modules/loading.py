"""Creating a database, and installing and uninstalling addons: each in one transaction.

Install resolves dependencies, builds the registry the database will have,
creates the new tables and columns, writes the addons' records and runs their
hooks, then records the new state and moves the registry sequence on so that
every worker rebuilds. Uninstall is the mirror image. Any error rolls the
whole transaction back: the database stays exactly as it was (SQLite and
PostgreSQL both roll back DDL).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from erpcore import db
from erpcore.keys import Keyring, KeyringMissing
from erpcore.modules.addons import (
    Addon,
    AddonError,
    check_external_dependencies,
    dependency_order,
    installed_names,
)
from erpcore.modules.data import load_records
from erpcore.orm.environment import Environment

if TYPE_CHECKING:
    from erpcore.registry import Registry
    from erpcore.server import Server

_logger = logging.getLogger(__name__)

#: addons that are the server itself and cannot be removed
CORE_ADDONS = ("base", "web")


def create_database(server: Server, admin_password: str | None = None,
                    password_rounds: int | None = None) -> str:
    """Create the database: system tables, ``base`` and ``web``, the administrator.

    The keyring is made here and only here, with the database it seals (unless
    the data directory or ``ERPCORE_SECRET_KEYS`` already holds one), and the
    database records which keys it uses. *password_rounds* sets the
    ``base.password_rounds`` setting before any password is hashed. Returns
    the administrator's password (random unless given).
    """
    try:
        server.keyring  # noqa: B018 - loads it
    except KeyringMissing:
        Keyring.generate(server.config.keyring_path).save()
    with server.transaction() as conn:
        db.create_system_tables(conn)
        db.set_parameter(conn, "database.uuid", str(uuid.uuid4()))
        db.set_parameter(conn, "base.company_name", "My Company")
        server.record_keys(conn)
        install(server, conn, ["base", "web"])
        password = admin_password or secrets.token_urlsafe(12)
        env = Environment(server.registry(conn), conn, None, su=True)
        if password_rounds is not None:
            env.registry.settings.set(conn, "base.password_rounds", password_rounds)
        env["res.users"].create({
            "login": "admin",
            "name": "Administrator",
            "password": password,
            "group_ids": [env.ref("base.group_user").id, env.ref("base.group_system").id],
        })
    return password


def _set_state(conn: Connection, addon: Addon, state: str) -> None:
    t = db.modules_table
    values = {"state": state, "version": addon.manifest.version,
              "write_date": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
    if not conn.execute(sa.update(t).where(t.c.name == addon.name).values(**values)).rowcount:
        conn.execute(sa.insert(t).values(name=addon.name, **values))


def _run_hook(addon: Addon, hook: str, env: Environment) -> None:
    """Call the addon's *hook*; its failure is the addon's error, reported in one line."""
    if hook:
        function = getattr(addon.module(), hook, None)
        if function is None:
            raise AddonError(f"addon {addon.name!r}: hook {hook!r} is not defined")
        try:
            function(env)
        except AddonError:
            raise
        except Exception as exc:
            raise AddonError(f"addon {addon.name!r}: {hook} failed: "
                             f"{exc.__class__.__name__}: {exc}") from exc


def sync_schema(conn: Connection, registry: Registry) -> None:
    """Create the registry's missing tables and add its missing columns.

    A column added to a table that has rows is filled with its field's
    default, so existing records read and compare as new ones would.
    """
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    registry.metadata.create_all(conn)
    preparer = conn.dialect.identifier_preparer
    fields_by_table = {model._table: model._fields for model in registry.models.values()}
    for table in registry.metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            ddl = column.type.compile(dialect=conn.dialect)
            reference = ""
            for fk in column.foreign_keys:
                target = fk.target_fullname.split(".")
                reference = (f" REFERENCES {preparer.quote(target[0])}({preparer.quote(target[1])})"
                             f" ON DELETE {fk.ondelete or 'SET NULL'}")
            conn.exec_driver_sql(
                f"ALTER TABLE {preparer.quote(table.name)} "
                f"ADD COLUMN {preparer.quote(column.name)} {ddl}{reference}"
            )
            if column.index:
                sa.Index(f"ix_{table.name}_{column.name}", column).create(conn)
            field = fields_by_table.get(table.name, {}).get(column.name)
            if field is not None and field.default is not None and not callable(field.default):
                conn.execute(sa.update(table).values({column.name: field.to_db(field.default)}))


def drop_schema(conn: Connection, old: Registry, new: Registry) -> None:
    """Drop the tables and columns that *old* has and *new* does not."""
    inspector = sa.inspect(conn)
    preparer = conn.dialect.identifier_preparer
    for table in reversed(old.metadata.sorted_tables):
        if table.name not in new.metadata.tables:
            table.drop(conn, checkfirst=True)
            continue
        kept = new.metadata.tables[table.name].columns
        gone = [c.name for c in table.columns if c.name not in kept]
        if not gone:
            continue
        for index in inspector.get_indexes(table.name):
            if set(index["column_names"]) & set(gone):
                conn.exec_driver_sql(f"DROP INDEX {preparer.quote(index['name'])}")
        for name in gone:
            conn.exec_driver_sql(
                f"ALTER TABLE {preparer.quote(table.name)} DROP COLUMN {preparer.quote(name)}"
            )


def install(server: Server, conn: Connection, names: list[str]) -> list[str]:
    """Install *names* and what they depend on, in the transaction of *conn*.

    The work runs in a savepoint: when it fails, the database is as before
    even if the caller catches the error and commits (a page showing it).
    Returns the addons newly installed.
    """
    with conn.begin_nested():
        return _install(server, conn, names)


def _install(server: Server, conn: Connection, names: list[str]) -> list[str]:
    available = server.discover()
    installed = installed_names(conn, available)
    to_install = [n for n in dependency_order(names, available) if n not in installed]
    if not to_install:
        return []
    for name in to_install:
        check_external_dependencies(available[name])
    order = dependency_order(installed + to_install, available)
    registry = server.build_registry(conn, [available[n] for n in order])
    sync_schema(conn, registry)
    env = Environment(registry, conn, None, su=True)
    for name in to_install:
        addon = available[name]
        load_records(addon, env)
        _run_hook(addon, addon.manifest.post_init_hook, env)
        _set_state(conn, addon, "installed")
        _logger.info("addon %s installed", name)
    db.bump_registry_sequence(conn)
    return to_install


def uninstall(server: Server, conn: Connection, name: str) -> list[str]:
    """Uninstall *name* and the installed addons that depend on it, in *conn*'s transaction.

    Like :func:`install`, all or nothing, in a savepoint. Returns the addons removed.
    """
    with conn.begin_nested():
        return _uninstall(server, conn, name)


def _uninstall(server: Server, conn: Connection, name: str) -> list[str]:
    if name in CORE_ADDONS:
        raise AddonError(f"addon {name!r} is part of the server and cannot be uninstalled")
    available = server.discover()
    installed = installed_names(conn, available)
    if name not in installed:
        raise AddonError(f"addon {name!r} is not installed")
    removed = {name}
    for other in installed:  # dependency order: dependents come after
        if set(available[other].manifest.depends) & removed:
            removed.add(other)
    to_remove = [n for n in installed if n in removed]
    old = server.build_registry(conn, [available[n] for n in installed])
    env = Environment(old, conn, None, su=True)
    for addon_name in reversed(to_remove):
        addon = available[addon_name]
        _run_hook(addon, addon.manifest.uninstall_hook, env)
        _delete_records(env, addon_name)
        _set_state(conn, addon, "uninstalled")
    kept = [available[n] for n in installed if n not in removed]
    drop_schema(conn, old, server.build_registry(conn, kept))
    db.bump_registry_sequence(conn)
    _logger.info("addons uninstalled: %s", ", ".join(to_remove))
    return to_remove


def _delete_records(env: Environment, addon: str) -> None:
    t = db.model_data_table
    rows = env.conn.execute(
        sa.select(t.c.model, t.c.res_id).where(t.c.module == addon)
    ).all()
    for model, res_id in rows:
        if model in env.registry.models:
            env[model].browse(res_id).exists().unlink()
    env.conn.execute(sa.delete(t).where(t.c.module == addon))
