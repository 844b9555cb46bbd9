"""Database access: one SQLAlchemy Core code path for SQLite and PostgreSQL.

The framework's own tables (module state, registry sequence, sessions,
throttles, parameters, external ids) are declared here; the tables of models
are built by the registry from the installed addons.

SQLite runs in WAL mode with a busy timeout, and every transaction starts
with ``BEGIN IMMEDIATE`` so two writers queue instead of failing on a lock
upgrade. PostgreSQL runs at READ COMMITTED; code that must not race uses a
conditional UPDATE and reads its row count.

On SQLite, foreign keys are declared on their column (``x INTEGER REFERENCES
t (id)``), not as table constraints: SQLite can drop a column only when no
table constraint names it, and uninstalling an addon drops the Many2one
columns it added to another addon's table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: an unreachable PostgreSQL host is a 503 after this, not a request hanging
PG_CONNECT_TIMEOUT_S = 10

system_metadata = sa.MetaData()

#: one row per addon ever installed; state is 'installed' or 'uninstalled'
modules_table = sa.Table(
    "ir_module_module",
    system_metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("version", sa.String(32)),
    sa.Column("write_date", sa.DateTime),
)

#: bumped whenever the set of installed addons changes; workers compare it
signal_table = sa.Table(
    "ir_registry_signal",
    system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sequence", sa.Integer, nullable=False),
)

#: server-side sessions, keyed by a hash of the cookie's random id
session_table = sa.Table(
    "http_session",
    system_metadata,
    sa.Column("sid_hash", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("uid", sa.Integer, index=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

#: failure counters shared by every worker (sign-in, second factor, ...)
throttle_table = sa.Table(
    "ir_throttle",
    system_metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("lockouts", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

#: key/value settings of the database (its uuid, the company name, ...)
parameter_table = sa.Table(
    "ir_config_parameter",
    system_metadata,
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: external ids: ``addon.name`` -> (model, res_id), owned by an addon
model_data_table = sa.Table(
    "ir_model_data",
    system_metadata,
    sa.Column("module", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("res_id", sa.Integer, nullable=False),
)


class DatabaseURLError(ValueError):
    """The database URL cannot be used; the message is one line."""


def create_engine(url: str) -> Engine:
    """An engine for *url*, with SQLite made safe for several threads and processes."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        if url.startswith("sqlite"):
            engine = sa.create_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                hide_parameters=True,  # a failing statement's values stay out of the logs
            )
            _make_sqlite_safe(engine)
        else:
            engine = sa.create_engine(
                url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True,
                connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
            )
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseURLError(f"bad database URL {url!r}: {exc}") from exc
    return engine


@compiles(sa.ForeignKeyConstraint, "sqlite")
def _no_table_level_foreign_key(constraint, compiler, **kw):  # type: ignore[no-untyped-def]
    """SQLite: the foreign key goes on its column instead (see the module docstring)."""
    return None


@compiles(CreateColumn, "sqlite")
def _column_level_foreign_key(create, compiler, **kw):  # type: ignore[no-untyped-def]
    text = compiler.visit_create_column(create, **kw)
    preparer = compiler.preparer
    for fk in create.element.foreign_keys:
        target = fk.column
        text += (f" REFERENCES {preparer.format_table(target.table)} "
                 f"({preparer.quote(target.name)})")
        if fk.ondelete:
            text += f" ON DELETE {fk.ondelete}"
    return text


def _make_sqlite_safe(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # deleted rows (old sealed secrets, hashes) are overwritten, not left in free pages
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed on success, rolled back on any exception."""
    with engine.begin() as conn:
        yield conn


def database_name(engine: Engine) -> str:
    return engine.url.database or ""


def create_system_tables(conn: Connection) -> None:
    system_metadata.create_all(conn)
    if conn.execute(sa.select(signal_table.c.sequence)).first() is None:
        conn.execute(sa.insert(signal_table).values(id=1, sequence=1))


def is_initialised(conn: Connection) -> bool:
    return sa.inspect(conn).has_table("ir_module_module")


def registry_sequence(conn: Connection) -> int:
    query = sa.select(signal_table.c.sequence).where(signal_table.c.id == 1)
    return conn.execute(query).scalar_one()


def bump_registry_sequence(conn: Connection) -> None:
    conn.execute(
        sa.update(signal_table)
        .where(signal_table.c.id == 1)
        .values(sequence=signal_table.c.sequence + 1)
    )


def get_parameter(conn: Connection, key: str, default: str | None = None) -> str | None:
    value = conn.execute(
        sa.select(parameter_table.c.value).where(parameter_table.c.key == key)
    ).scalar()
    return default if value is None else value


def set_parameter(conn: Connection, key: str, value: str) -> None:
    updated = conn.execute(
        sa.update(parameter_table).where(parameter_table.c.key == key).values(value=value)
    ).rowcount
    if not updated:
        conn.execute(sa.insert(parameter_table).values(key=key, value=value))
