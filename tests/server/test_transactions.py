"""The transaction rule of :mod:`erpcore.db`, on SQLite and PostgreSQL: reads are sent
outside any transaction, ``BEGIN`` goes just before the first statement that writes or
locks rows, and the driver path (``DriverStatement``) keeps SQLAlchemy's guarantees."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, OperationalError

from erpcore import db


def driver_in_transaction(conn: sa.Connection) -> bool:
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        return driver.in_transaction
    return driver.info.transaction_status != 0  # psycopg's IDLE


@pytest.mark.parametrize(("statement", "plain_read"), [
    ("SELECT id FROM t WHERE id = 1", True),
    ("  select id from t", True),
    ("SELECT id AS for_update FROM t", True),
    ("PRAGMA main.table_info(\"t\")", True),
    ("SELECT id FROM t FOR UPDATE SKIP LOCKED", False),
    ("select id from t for update", False),
    ("SELECT id FROM t FOR\nNO KEY UPDATE", False),
    ("SELECT id FROM t FOR SHARE", False),
    ("SELECT id FROM t for key share", False),
    ("WITH x AS (SELECT 1) SELECT * FROM x", False),
    ("UPDATE t SET a = 1", False),
    ("INSERT INTO t (a) VALUES (1) RETURNING id", False),
    ("SAVEPOINT sa_1", False),
    ("SET LOCAL TIME ZONE 'Europe/Paris'", False),
    ("CREATE TABLE t (id INTEGER)", False),
])
def test_plain_reads_are_told_from_statements_that_write_or_lock(statement, plain_read):
    assert db._plain_read(statement) is plain_read


def test_reads_begin_no_transaction_and_the_first_write_does(erp):
    signal = db.signal_table
    with erp.server.engine.connect() as conn:
        before = conn.execute(sa.select(signal.c.sequence)).scalar_one()
        assert db.sequences(conn)[0] == before  # the driver path reads the same
        assert not driver_in_transaction(conn)
        conn.execute(sa.update(signal).values(sequence=signal.c.sequence + 1))
        assert driver_in_transaction(conn)
        conn.rollback()
        assert not driver_in_transaction(conn)
        assert conn.execute(sa.select(signal.c.sequence)).scalar_one() == before


def test_a_write_on_the_driver_path_is_committed_or_rolled_back_with_the_connection(erp):
    signal = db.signal_table
    bump = db.DriverStatement(sa.update(signal).values(sequence=sa.bindparam("s")))
    with erp.server.engine.connect() as conn:
        before = db.sequences(conn)[0]
        assert bump(conn, {"s": before + 10}).rowcount == 1
        conn.rollback()
        assert db.sequences(conn)[0] == before
        bump(conn, {"s": before + 20})
        conn.commit()
    with erp.server.engine.connect() as conn:
        assert db.sequences(conn)[0] == before + 20


def test_driver_statements_share_one_cursor_which_a_failure_throws_away(erp):
    """One cursor per connection; after a refused statement the next runs on a new one,
    and a write with RETURNING gives its rows."""
    throttle = db.throttle_table
    insert = db.DriverStatement(sa.insert(throttle).values(
        key=sa.bindparam("k"), failures=1, locked_until=0, updated_at=0,
    ).returning(throttle.c.failures))
    with erp.server.engine.connect() as conn:
        first = db.sequences(conn)
        cursor = conn.connection.info[db._CURSOR]
        assert insert(conn, {"k": "test:cursor"}).rows == [(1,)]
        assert conn.connection.info[db._CURSOR] is cursor
        with pytest.raises(sa.exc.IntegrityError):  # the same key again
            insert(conn, {"k": "test:cursor"})
        assert db._CURSOR not in conn.connection.info
        conn.rollback()
        assert db.sequences(conn) == first
        assert conn.connection.info[db._CURSOR] is not cursor
        assert conn.execute(sa.select(sa.func.count()).select_from(throttle).where(
            throttle.c.key == "test:cursor")).scalar_one() == 0


def test_values_sent_by_the_driver_path_are_stored_as_sqlalchemy_stores_them(erp):
    """The columns' types convert the parameters: SQLite keeps a date as text, in
    SQLAlchemy's format (the driver's own would drop a zero microsecond, and text
    comparisons in SQL would then go wrong)."""
    modules = db.modules_table
    when = dt.datetime(2026, 12, 1, 9, 30)
    stamp = db.DriverStatement(sa.update(modules).where(
        modules.c.name == sa.bindparam("n")).values(write_date=sa.bindparam("w")))
    stored = sa.select(sa.cast(modules.c.write_date, sa.String)).where(modules.c.name == "base")
    with erp.server.engine.connect() as conn:
        conn.execute(sa.update(modules).where(modules.c.name == "base").values(write_date=when))
        by_sqlalchemy = conn.execute(stored).scalar_one()
        assert stamp(conn, {"n": "base", "w": when}).rowcount == 1
        assert conn.execute(stored).scalar_one() == by_sqlalchemy
        assert conn.execute(sa.select(modules.c.write_date).where(
            modules.c.name == "base")).scalar_one() == when
        # a parameter used twice is converted once (twice, SQLite's would refuse its text)
        later = db.DriverStatement(sa.update(modules).where(
            modules.c.name == "base", modules.c.write_date < sa.bindparam("w"),
        ).values(write_date=sa.bindparam("w")))
        assert later(conn, {"w": when + dt.timedelta(days=1)}).rowcount == 1
        conn.rollback()


def test_a_driver_statement_cut_short_throws_its_cursor_away(erp):
    """An interrupt in the middle of a statement leaves no half-read cursor in the pool
    (on SQLite, an unfinished SELECT would keep its read snapshot)."""

    def interrupt(*_args):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    engine = erp.server.engine
    with engine.connect() as conn:
        db.sequences(conn)
        sa.event.listen(engine, "before_cursor_execute", interrupt)
        try:
            with pytest.raises(KeyboardInterrupt):
                db.sequences(conn)
        finally:
            sa.event.remove(engine, "before_cursor_execute", interrupt)
        assert db._CURSOR not in conn.connection.info
        assert db.sequences(conn)[0] >= 1


def test_a_missing_parameter_is_refused_before_anything_is_sent(erp):
    """The driver would otherwise be sent NULL for it (a write of NULLs)."""
    signal = db.signal_table
    bump = db.DriverStatement(sa.update(signal).values(sequence=sa.bindparam("s")))
    with erp.server.engine.connect() as conn:
        before = db.sequences(conn)[0]
        with pytest.raises(ArgumentError, match="required for the parameters s"):
            bump(conn, {})
        assert not driver_in_transaction(conn)
        assert db.sequences(conn)[0] == before


def test_a_row_lock_written_in_lower_case_is_held_until_the_commit(make_erp):
    """PostgreSQL: a hand-written ``for update`` begins the transaction, so its lock
    lasts until the commit (sent in autocommit, it would end with the statement)."""
    erp = make_erp("postgresql")
    engine = erp.server.engine
    with engine.connect() as holder, engine.connect() as other:
        holder.exec_driver_sql("select id from ir_registry_signal where id = 1 for update")
        assert driver_in_transaction(holder)
        with pytest.raises(OperationalError):  # the lock is not available
            other.exec_driver_sql(
                "SELECT id FROM ir_registry_signal WHERE id = 1 FOR UPDATE NOWAIT")
        other.rollback()
        holder.commit()
        other.exec_driver_sql("SELECT id FROM ir_registry_signal WHERE id = 1 FOR UPDATE NOWAIT")
        other.rollback()
