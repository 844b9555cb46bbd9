"""Micro-benchmark: what telling a user by mail adds to an event, and how fast one
process sends.

Run from the repository's root::

    python -m bench.mail_queue [--pg URL] [--repeat 200]

Queuing a message happens inside the transaction of the event it reports
(a sign-in, an activation): the template is rendered in the user's language
(QWeb, then lxml for the text part) and one row is written. Measured, per
call, each in a transaction of its own, on PostgreSQL and a SQLite file:
recording a 2FA event that sends no mail (``failure``), one that queues a
new message (``enabled``, a different user each time), and one that joins
a message already waiting (``lockout``, one user: the message is rendered
again with its latest 20 events).

Then the sender: 200 messages queued, sent by one process's turns
(``MailDelivery.deliver_due``: claim, SMTP to a local aiosmtpd server that
accepts everything, mark sent), timed from the first claim to the last mark.
Bounded: under a minute in all.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from bench.common import BenchDatabase, default_pg, free_port, machine
from bench.totp_check import Row, sqlite_server, timed
from erpcore.mail import MailDelivery
from erpcore.server import Server


class _Accept:
    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 OK"


def make_users(server: Server, count: int, prefix: str) -> list[int]:
    with server.environment() as env:
        group = env.ref("base.group_user").id
        return [env["res.users"].create({
            "login": f"{prefix}{n:05d}", "name": f"User {n}", "email": f"u{n}@example.com",
            "lang": "fr", "tz": "Europe/Paris", "group_ids": [group]}).id
            for n in range(count)]


def queue_costs(server: Server, label: str, repeat: int) -> list[Row]:
    users = make_users(server, repeat + 21, f"q{time.monotonic_ns()}-")
    clock = time.time()

    def record(uid: int, event: str) -> None:
        with server.environment() as env:
            env["auth_totp.event"].record(uid, event, now=clock, ip="192.0.2.1")

    def fresh(i: int) -> int:
        """A user with no message yet, for call *i* (warm-up calls are negative)."""
        return users[21 + i] if i >= 0 else users[-i if i > -21 else 0]

    engine = server.engine
    return [
        timed(f"{label}: 2FA event, no mail (failure)",
              lambda i: record(users[0], "failure"), repeat, engine),
        timed(f"{label}: 2FA event + a new message (enabled)",
              lambda i: record(fresh(i), "enabled"), repeat, engine),
        timed(f"{label}: 2FA event joining a waiting message (lockout, 20 listed)",
              lambda i: record(users[0], "lockout"), repeat, engine),
    ]


def sending_rate(server: Server, label: str, smtp_port: int, count: int = 200) -> Row:
    server.config.smtp_server, server.config.smtp_port = "127.0.0.1", smtp_port
    users = make_users(server, count, f"s{time.monotonic_ns()}-")
    with server.environment() as env:
        for uid in users:
            env["auth_totp.event"].record(uid, "recovery_regenerated", now=time.time(), ip="")
    sender = MailDelivery(server)
    started = time.perf_counter()
    sent = 0
    while (done := sender.deliver_due()):
        sent += done
    elapsed = time.perf_counter() - started
    assert sent >= count, sent
    return (f"{label}: one sender, {sent} messages to a local SMTP server "
            f"({sent / elapsed:.0f} messages/s)", elapsed / sent * 1e6, 0.0, sent, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=default_pg(), help="a PostgreSQL server on this machine")
    parser.add_argument("--repeat", type=int, default=200, help="calls per measurement")
    args = parser.parse_args()
    if not 10 <= args.repeat <= 5_000:
        parser.error("--repeat is between 10 and 5000")
    print(f"machine: {machine()}", flush=True)
    smtp = Controller(_Accept(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    rows: list[Row] = []
    try:
        database = BenchDatabase(args.pg, 1000)
        try:
            rows += queue_costs(database.server, "PostgreSQL", args.repeat)
            rows.append(sending_rate(database.server, "PostgreSQL", smtp.port))
        finally:
            database.drop()
        with tempfile.TemporaryDirectory(prefix="erpcore-bench-") as folder:
            server = sqlite_server(Path(folder))
            try:
                rows += queue_costs(server, "SQLite", args.repeat)
                rows.append(sending_rate(server, "SQLite", smtp.port))
            finally:
                server.dispose()
    finally:
        smtp.stop()
    print()
    print("| what | median µs | p99 µs | calls | SQL statements per call |")
    print("|---|---|---|---|---|")
    for name, median, p99, calls, statements in rows:
        print(f"| {name} | {median:,.0f} | {p99:,.0f} | {calls} | {statements} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
