"""Periodic jobs: small tasks that the mail sender's loop runs every so often.

An addon (or the framework) declares a job with a decorator, in a module its
package imports::

    from erpcore.mail.jobs import periodic_job

    @periodic_job(interval=3600)
    def send_deadline_reminders(env, now):
        ...  # runs as superuser, in one transaction of its own; now: the server's clock

The loop of :mod:`erpcore.mail.delivery` (one per server process) looks at
the jobs on each turn, every few seconds. A job runs only while its addon
is installed in the database, at most once per *interval* across every
process and server sharing the database: each run first moves the job's
"last run" time forward with one conditional UPDATE (in
``ir_config_parameter``), and only the process whose UPDATE changed the row
runs it, in the same transaction. A job that fails is rolled back with its
"last run", logged, and tried again on a later turn.

So a job must be short (it holds its transaction, and on SQLite the write
lock, while it runs), must not talk to the network, and should do the same
thing if run twice (a crash between its work and the commit means it is).
Work that sends mail queues it in the outbox (``mail.mail``), which the
loop then delivers outside any transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from erpcore.db import database_unavailable, parameter_table
from erpcore.modules.addons import addon_of_module

if TYPE_CHECKING:
    from erpcore.orm.environment import Environment
    from erpcore.server import Server

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    #: unique, ``addon.function``
    name: str
    #: seconds between two runs
    interval: float
    function: Callable[[Environment, float], None]
    #: the addon that declared it ("erpcore" for the framework: always on)
    addon: str


#: every job Python has imported, by name
periodic_jobs: dict[str, PeriodicJob] = {}


def periodic_job(interval: float) -> Callable:
    """Declare the decorated ``function(env, now)`` as a job run every *interval* seconds."""
    if interval <= 0:
        raise ValueError("a periodic job needs an interval above 0")

    def declare(function: Callable[[Environment, float], None]
                ) -> Callable[[Environment, float], None]:
        addon = addon_of_module(function.__module__)
        name = f"{addon}.{function.__name__}"
        periodic_jobs[name] = PeriodicJob(name, interval, function, addon)
        return function

    return declare


def _last_run_key(job: PeriodicJob) -> str:
    return f"periodic_job.{job.name}.last_run"


def _take_turn(conn: sa.Connection, job: PeriodicJob, now: float) -> bool:
    """Whether this process runs *job* now; the row it updates stays locked until commit."""
    t = parameter_table
    key = _last_run_key(job)
    moved = conn.execute(sa.update(t).where(
        t.c.key == key, sa.cast(t.c.value, sa.Float) <= now - job.interval,
    ).values(value=repr(now))).rowcount
    if moved:
        return True
    if conn.execute(sa.select(t.c.key).where(t.c.key == key)).first() is not None:
        return False  # ran less than an interval ago (here or elsewhere)
    conn.execute(sa.insert(t).values(key=key, value=repr(now)))  # its first run anywhere
    return True


def run_due_jobs(server: Server, now: float) -> list[str]:
    """Run each job that is due, each in its own transaction; returns the names run."""
    if not periodic_jobs:
        return []
    with server.engine.connect() as conn:
        installed = set(server.registry(conn).installed)
        conn.rollback()
    ran = []
    for job in list(periodic_jobs.values()):
        if job.addon != "erpcore" and job.addon not in installed:
            continue
        try:
            with server.environment() as env:
                if not _take_turn(env.conn, job, now):
                    continue
                job.function(env, now)
            ran.append(job.name)
        except IntegrityError:
            continue  # another process inserted its first run at the same moment
        except Exception as exc:
            if isinstance(exc, DBAPIError) and database_unavailable(exc):
                raise  # the caller says so once, in one line
            _logger.exception("periodic job %s failed; it will be tried again", job.name)
    return ran
