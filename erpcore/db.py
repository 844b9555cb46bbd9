"""Database access: one SQLAlchemy Core code path for SQLite and PostgreSQL.

The framework's own tables (module state, registry sequence, sessions,
throttles, parameters, external ids) are declared here; the tables of models
are built by the registry from the installed addons.

Never hold a lock across something slow. The rule, for every caller:

* Reads take no lock and hold no snapshot: they are sent outside any
  transaction (:func:`_begin_at_first_write`), on both databases; in
  SQLite's WAL mode readers and the writer do not wait for each other.
* The first write begins the transaction: on SQLite ``BEGIN IMMEDIATE``
  waits for the database's write lock (see :func:`_make_sqlite_safe`); on
  PostgreSQL the rows written stay locked. Either way the lock is held
  until the commit, so a write transaction is short: a password hash, a
  request body still arriving, an SMTP conversation never run inside one.
  Code that must write before something slow (a throttle counting a try
  before the password is checked) commits first: ``conn.commit()``; the
  next write begins anew.
* A statement may therefore see data newer than an earlier statement of the
  same request (PostgreSQL's READ COMMITTED, which SQLite's reads match).
  Every guarantee that needs atomicity ("accept a code once") comes from one
  conditional statement and its row count (``_write_if``), never from a long
  transaction.

On SQLite, foreign keys are declared on their column (``x INTEGER REFERENCES
t (id)``), not as table constraints: SQLite can drop a column only when no
table constraint names it, and uninstalling an addon drops the Many2one
columns it added to another addon's table.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: psycopg's transaction status of a connection outside any transaction
_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE, without importing the driver here
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
    #: bumped whenever a setting changes; workers drop their cached values
    sa.Column("config_sequence", sa.Integer, nullable=False, server_default="1"),
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


def database_unavailable(exc: DBAPIError) -> bool:
    """Whether *exc* means the database cannot be reached (503), not a bug (500)."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    # PostgreSQL reports lost or refused connections as OperationalError; SQLite also
    # uses it for schema errors, of which only a lock held too long is "unavailable".
    message = str(exc.orig).lower()
    return "database is locked" in message or "sqlite" not in type(exc.orig).__module__


def create_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine for *url*, with SQLite made safe for several threads and processes.

    *pool_size* is the connections kept open: one per request handled at once.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            private = Path(path) if path and path != ":memory:" and \
                not path.startswith("file:") else None
            if private is not None:
                make_private(private)
            engine = sa.create_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                hide_parameters=True,  # a failing statement's values stay out of the logs
                # a file's pool: last used, first reused, as for PostgreSQL below
                **({"pool_use_lifo": True} if private is not None else {}),
            )
            _make_sqlite_safe(engine, private)
        else:
            # no pool_pre_ping: a dead connection is replaced at the request's first
            # statement instead (first_read)
            engine = sa.create_engine(
                url, pool_size=pool_size, max_overflow=pool_size,
                hide_parameters=True,
                # the connection used last serves next: its caches are warm (SQLite's
                # page cache, PostgreSQL's backend and prepared statements), and the
                # others are left idle rather than taken in turns
                pool_use_lifo=True,
                isolation_level="AUTOCOMMIT",  # the driver begins nothing: we do
                connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
            )
            _begin_at_first_write(engine, "BEGIN", lambda dbapi_conn: (
                dbapi_conn.info.transaction_status != _PG_IDLE))
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseURLError(f"bad database URL {url!r}: {exc}") from exc
    return engine


def make_private(path: Path) -> None:
    """Make the SQLite file *path* and its ``-wal``/``-shm`` companions readable by us alone.

    SQLite gives the companions the mode of the database file, so creating
    that file 0600 before SQLite does is enough for new databases; existing
    files are set to 0600 whatever the directory's mode.
    """
    with suppress(OSError):  # it exists; or its folder does not, which others report
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for companion in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
        with suppress(FileNotFoundError, NotADirectoryError):
            if companion.stat().st_mode & 0o077:
                companion.chmod(0o600)


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


def _make_sqlite_safe(engine: Engine, private: Path | None = None) -> None:
    """WAL, a busy timeout, and write transactions that take the write lock at once.

    Reads run outside any transaction (:func:`_begin_at_first_write`), and
    ``BEGIN IMMEDIATE`` before the first write waits its turn for the write
    lock. A deferred transaction upgraded in place would instead fail at
    once whenever another writer had committed since its snapshot began
    (``SQLITE_BUSY_SNAPSHOT``).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        if private is not None:
            # the file may have been made just now (its folder did not exist when the
            # engine was): private before WAL mode makes the companions, with its mode
            make_private(private)
        dbapi_conn.isolation_level = None  # the driver begins nothing: we do
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # deleted rows (old sealed secrets, hashes) are overwritten, not left in free pages
        cursor.execute("PRAGMA secure_delete=ON")
        # LIKE tells case apart, as on PostgreSQL (domains: 'like' vs 'ilike')
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()

    _begin_at_first_write(engine, "BEGIN IMMEDIATE",
                          lambda dbapi_conn: dbapi_conn.in_transaction)


#: a row-locking clause: ``FOR UPDATE``, ``FOR NO KEY UPDATE``, ``FOR SHARE``, ``FOR KEY SHARE``
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)  # the same few statement strings, again and again
def _plain_read(statement: str) -> bool:
    """Whether *statement* only reads: a ``SELECT`` that locks no row, or a ``PRAGMA``
    (SQLite's schema reads). Anything else begins the transaction: a statement
    written by hand whose effect lasts until the commit (a ``SELECT`` taking
    an advisory transaction lock, say) must come after a write, or be one."""
    head = statement.lstrip()[:6].upper()
    return head == "PRAGMA" or (head == "SELECT" and not _LOCKING.search(statement))


def _begin_at_first_write(engine: Engine, begin: str,
                          in_transaction: Callable[[Any], bool]) -> None:
    """Reads before a transaction's first write go without ``BEGIN``; *begin* goes
    just before the first statement that writes or locks rows.

    The driver's connections are in autocommit mode. A request that only
    reads sends neither ``BEGIN`` nor ``COMMIT`` (on PostgreSQL, two round
    trips of the four of such a request: bench/request_cost.py), and holds
    no snapshot. Its reads see what they would have seen in a transaction
    that had not written yet: under READ COMMITTED each statement takes its
    own snapshot anyway (see the module's docstring; a PostgreSQL database
    set to a stricter ``default_transaction_isolation`` gets no snapshot
    across reads either). ``commit()`` and ``rollback()`` send nothing when
    no transaction was begun.
    *in_transaction* tells, from the driver's connection, whether one was.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(_conn, cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not _plain_read(statement) and not in_transaction(cursor.connection):
            cursor.execute(begin)


class DriverResult(NamedTuple):
    """What a :class:`DriverStatement` gives: its rows (tuples) and the rows it changed."""

    rows: list[tuple[Any, ...]]
    rowcount: int


class _Compiled(NamedTuple):
    """A :class:`DriverStatement` for one dialect: what is worked out once."""

    sql: str
    #: the values written in the statement itself, by parameter name
    literals: dict[str, Any]
    #: the parameters' order, for a driver whose parameters are positional (SQLite)
    positions: tuple[str, ...] | None
    #: the parameters whose values the column's type converts for the driver, and how
    #: (a date on SQLite, say), as SQLAlchemy's own execution does
    converters: list[tuple[str, Callable[[Any], Any]]]

    @classmethod
    def of(cls, statement: sa.Executable, dialect: sa.Dialect) -> _Compiled:
        compiled = statement.compile(dialect=dialect)
        # by name: a parameter used twice in the statement is converted once
        converters = {name: convert for bind, name in compiled.bind_names.items()  # type: ignore[attr-defined]
                      if (convert := bind.type.dialect_impl(dialect).bind_processor(
                          dialect)) is not None}
        return cls(compiled.string, compiled.params, compiled.positiontup,  # type: ignore[attr-defined]
                   list(converters.items()))


#: the driver's cursor that driver statements reuse, in the pooled connection's ``info``
#: (which goes with the driver's connection: emptied when it is closed or invalidated)
_CURSOR = "erpcore.driver_cursor"


class DriverStatement:
    """A statement compiled once per dialect by SQLAlchemy, then run on the driver's cursor.

    For the statements of nearly every request (session, sequences,
    throttle, a record's row by id, the ORM's writes of one record).
    SQLAlchemy's execution of a statement it has cached costs
    several times the driver's own work (bench/request_cost.py measures the
    requests; one session read alone: 44 against 12 µs of CPU on SQLite, 282
    against 123 µs on PostgreSQL). What the framework relies on is kept: the
    connection's transaction is begun as SQLAlchemy's own execution would
    (``commit()`` and ``rollback()`` see it), the ``before_cursor_execute``
    listeners registered on the engine run (the ``BEGIN`` before a first
    write, statement counters; no other event does),
    and a driver error is SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`,
    a lost connection invalidated as by SQLAlchemy. The driver's cursor is made once
    per connection and reused. The values sent and the values read are
    converted as SQLAlchemy would (a date on SQLite, a boolean), by the
    columns' own types; a statement's parameters take them from the column
    they are compared with or written to.
    """

    def __init__(self, statement: sa.Executable):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        #: by dialect, the columns whose values need converting, and how
        self._processors: dict[str, list[tuple[int, Callable[[Any], Any]]]] = {}
        self._names: list[str] | None = None
        #: a SELECT, or a write with RETURNING: the cursor is read only then
        self._returns_rows = bool(statement.exported_columns)  # type: ignore[attr-defined]
        #: the parameters a call must give (those without a value in the statement)
        self._required = frozenset(bind.key for bind in sa.sql.visitors.iterate(statement)
                                   if isinstance(bind, sa.BindParameter) and bind.required)

    def dicts(self, conn: Connection, params: dict[str, object] | None = None
              ) -> list[dict[str, Any]]:
        """The rows read, each a dict by column name."""
        if self._names is None:
            self._names = list(self.statement.exported_columns.keys())  # type: ignore[attr-defined]
        names = self._names
        return [dict(zip(names, row, strict=True)) for row in self(conn, params).rows]

    def _convert(self, dialect: sa.Dialect, cursor: Any, rows: list[Any]) -> list[Any]:
        processors = self._processors.get(dialect.name)
        if processors is None:
            # the driver's description of the columns, asked for once: psycopg builds
            # it anew at each call (measured: 20 µs for a row of 12 columns)
            processors = self._processors[dialect.name] = [
                (index, convert) for index, (column, about)
                in enumerate(zip(self.statement.exported_columns,  # type: ignore[attr-defined]
                                 cursor.description, strict=False))
                if (convert := column.type.dialect_impl(dialect).result_processor(
                    dialect, about[1])) is not None]
        if not processors:
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for index, convert in processors:
                values[index] = convert(values[index])
            converted.append(tuple(values))
        return converted

    def __call__(self, conn: Connection, params: dict[str, object] | None = None
                 ) -> DriverResult:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = _Compiled.of(
                self.statement, conn.dialect)
        params = params or {}
        if not self._required <= params.keys():  # the driver would be sent NULL instead
            missing = ", ".join(sorted(self._required - params.keys()))
            raise ArgumentError(f"a value is required for the parameters {missing}")
        values = {**compiled.literals, **params}  # the statement's literals, then ours
        for name, convert in compiled.converters:
            values[name] = convert(values[name])
        parameters: Any = values if compiled.positions is None else \
            tuple(values[name] for name in compiled.positions)
        sql = compiled.sql
        if not conn.in_transaction():
            conn.begin()  # as SQLAlchemy's autobegin
        driver_error = conn.dialect.loaded_dbapi.Error
        pooled = conn.connection
        cursor = pooled.info.get(_CURSOR)
        try:
            if cursor is None:
                cursor = pooled.info[_CURSOR] = pooled.driver_connection.cursor()
            # the engine's listeners (where erpcore and its tests register them): the
            # connection's joined dispatcher would be built anew at each call
            conn.engine.dispatch.before_cursor_execute(conn, cursor, sql, parameters, None,
                                                       False)
            cursor.execute(sql, parameters)
            rows = self._convert(conn.dialect, cursor, cursor.fetchall()) \
                if self._returns_rows else []
            return DriverResult(rows, cursor.rowcount)
        except driver_error as exc:
            pooled.info.pop(_CURSOR, None)
            lost = conn.dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
            error = DBAPIError.instance(sql, None, exc, driver_error, hide_parameters=True,
                                        connection_invalidated=lost, dialect=conn.dialect)
            if lost:  # as SQLAlchemy does: this connection, and the pool's older ones
                conn.engine.pool._invalidate(pooled, exc)
                conn.invalidate(exc)
            elif cursor is not None:
                with suppress(driver_error):
                    cursor.close()
            raise error from exc
        except BaseException:
            # cut short (an interrupt during the fetch): a SELECT left unfinished on SQLite
            # would hold its read snapshot in the pooled connection
            pooled.info.pop(_CURSOR, None)
            if cursor is not None:
                with suppress(driver_error):
                    cursor.close()
            raise


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed on success, rolled back on any exception."""
    with engine.begin() as conn:
        yield conn


def truncate_wal(engine: Engine) -> bool:
    """SQLite: copy the write-ahead log into the database and empty it; True when done.

    Called after a commit that removed secrets (an uninstall): until then the
    removed rows' old pages stay in the ``-wal`` file. Waits for readers
    within the busy timeout; PostgreSQL has nothing to do.
    """
    if engine.url.get_backend_name() != "sqlite":
        return True
    raw = engine.raw_connection()
    try:
        busy, _log, _done = raw.driver_connection.execute(
            "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    return not busy


def create_system_tables(conn: Connection) -> None:
    system_metadata.create_all(conn)
    if conn.execute(sa.select(signal_table.c.sequence)).first() is None:
        conn.execute(sa.insert(signal_table).values(id=1, sequence=1))


def is_initialised(conn: Connection) -> bool:
    return sa.inspect(conn).has_table("ir_module_module")


_SEQUENCES = DriverStatement(sa.select(
    signal_table.c.sequence, signal_table.c.config_sequence).where(signal_table.c.id == 1))


def first_read(conn: Connection, statement: DriverStatement,
               params: dict[str, object] | None = None) -> tuple[Any, ...]:
    """The one row *statement* reads, as the first statement of a request.

    When it is the first of its transaction and the pooled connection turns
    out dead (PostgreSQL restarted since the connection was last used), it
    runs again on a new connection: nothing was done in the dead one. That
    spares every request the round trip of a ping at checkout
    (``pool_pre_ping``: measured, about 0.1 ms of CPU per request on PostgreSQL).
    """
    first = not conn.in_transaction()
    try:
        (row,) = statement(conn, params).rows
    except DBAPIError as exc:
        if not (first and exc.connection_invalidated):
            raise
        conn.rollback()  # the next statement takes a new connection from the pool
        (row,) = statement(conn, params).rows
    return row


def sequences(conn: Connection) -> tuple[int, int]:
    """The registry sequence and the configuration sequence, in one read."""
    sequence, config_sequence = first_read(conn, _SEQUENCES)
    return sequence, config_sequence


def bump_config_sequence(conn: Connection) -> None:
    conn.execute(
        sa.update(signal_table)
        .where(signal_table.c.id == 1)
        .values(config_sequence=signal_table.c.config_sequence + 1)
    )


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
