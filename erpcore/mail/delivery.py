"""The mail sender: one background thread per server process.

::

    start_mail_delivery(server)           once per process (service.py, post_fork)
      '- thread loop, every mail_poll_interval seconds or when woken:
           |- run_due_jobs                 periodic jobs (erpcore.mail.jobs)
           '- deliver_due (if --smtp)
                |- claim       one short transaction: a lease on due messages
                |- send        SMTP, no transaction open
                '- mark        one short transaction per message: sent, retry or failed

Nothing here runs inside a request or holds a transaction across the SMTP
conversation. A message committed by this process wakes the thread at once
(a listener on the engine's commits sees the flag that ``mail.mail`` left
on the connection); other processes' messages are found by polling.
Correctness never depends on the wake-up.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from erpcore.db import database_unavailable
from erpcore.mail import outbox, transport
from erpcore.mail.jobs import run_due_jobs
from erpcore.mail.message import build_message

if TYPE_CHECKING:
    from erpcore.server import Server

_logger = logging.getLogger(__name__)

#: set on a connection's ``info`` by a transaction that queued mail
QUEUED_FLAG = "erpcore.mail.queued"


def note_queued(conn: Connection) -> None:
    """Say that *conn*'s transaction queued mail: its commit wakes the sender."""
    conn.info[QUEUED_FLAG] = True


class MailDelivery:
    """The sending thread of one server process."""

    def __init__(self, server: Server):
        self.server = server
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._watched: Engine | None = None

    @property
    def configured(self) -> bool:
        return bool(self.server.config.smtp_server)

    # -- the thread ----------------------------------------------------------------

    def start(self) -> MailDelivery:
        self._thread = threading.Thread(target=self._loop, name="erpcore-mail", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop after the current message; waits *timeout* seconds at most."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            busy = False
            try:
                self._watch_commits()
                run_due_jobs(self.server, self.server.clock())
                if self.configured:
                    busy = self.deliver_due() >= outbox.BATCH
            except Exception as exc:
                if isinstance(exc, DBAPIError) and database_unavailable(exc):
                    # the database is away for a while: say so in one line, try again later
                    _logger.error("mail delivery: database unavailable (%s); trying again "
                                  "later", exc.__class__.__name__)
                else:
                    _logger.exception("mail delivery: turn failed; trying again later")
            if not busy:
                self._wake.wait(self.server.config.mail_poll_interval)
                self._wake.clear()

    def _watch_commits(self) -> None:
        """Listen to the commits of the server's current engine (it changes after a fork)."""
        engine = self.server.engine
        if engine is self._watched:
            return
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "rollback", self._on_rollback)
        self._watched = engine

    def _on_commit(self, conn: Connection) -> None:
        if conn.info.pop(QUEUED_FLAG, False):
            self._wake.set()

    def _on_rollback(self, conn: Connection) -> None:
        # a connection the database dropped has no info left to clean, and asking for
        # it would raise instead of letting the rollback end the dead transaction
        if not conn.invalidated:
            conn.info.pop(QUEUED_FLAG, None)

    # -- one turn ------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Claim the due messages, send each, record each outcome; returns how many."""
        server, config = self.server, self.server.config
        with server.transaction() as conn:
            registry = server.registry(conn)
            if "mail.mail" not in registry.models:
                return 0
            table = registry.models["mail.mail"]._sa_table
            claimed = outbox.claim(conn, table, server.clock(), config.mail_lease)
        # each SMTP step gives up well before the claim's lease runs out
        timeout = min(60.0, max(config.mail_lease / 4, 1.0))
        for row in claimed.rows:
            if self._stopping.is_set():
                break  # the lease expires and another turn sends it
            message = build_message(row, config.sender, server.clock())
            try:
                transport.send(config, message, timeout)
            except transport.DeliveryError as exc:
                with server.transaction() as conn:
                    state = outbox.mark_failed(conn, table, row, claimed.token, server.clock(),
                                               str(exc), exc.permanent)
                if state == "exception":
                    _logger.error("mail %s to user %s (%s) failed for good: %s", row.id,
                                  row.user_id or "-", row.kind or "-", exc)
                else:
                    _logger.warning("mail %s not sent (try %s), will retry: %s", row.id,
                                    row.attempts, exc)
                continue
            with server.transaction() as conn:
                outbox.mark_sent(conn, table, row, claimed.token, server.clock())
            _logger.info("mail %s sent to user %s (%s)", row.id, row.user_id or "-",
                         row.kind or "-")
        return len(claimed.rows)


def start_mail_delivery(server: Server) -> MailDelivery:
    """Start the sender of *server*'s process (one per process, after any fork).

    At the process's exit it finishes the message in hand (within its SMTP
    timeout) and records the outcome, rather than leave it to a lease.
    """
    delivery = MailDelivery(server).start()
    atexit.register(delivery.stop)
    return delivery
