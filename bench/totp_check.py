"""Micro-benchmark: what checking a code costs, beside the raw cost of its HMACs.

Run from the repository's root::

    python -m bench.totp_check [--pg URL] [--repeat 300]

``res.users._totp_check`` is timed on a real database (PostgreSQL and a
SQLite file): read the user's row, open the sealed secret (AES-256-GCM),
compute the codes of the window (three HMAC-SHA1), and for an accepted
code record its step with one conditional UPDATE; a wrong code also probes
ten steps each side for the clock-drift message (21 more HMACs). Each
accepted call uses the code of a later step (the server refuses a replay),
with the check's injected clock moved on by 30 s.

Beside it: the HMACs alone through ``auth_totp.totp``, opening the sealed
secret alone, and the password hash that precedes every code at sign-in
(pbkdf2_sha512 at the production 600,000 rounds and at 1,000).
Times are per call: the median and the 99th percentile of ``--repeat``
calls (fewer for the slow password hash). Bounded: a few seconds to a
minute in all.
"""

from __future__ import annotations

import argparse
import hmac
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from auth_totp import totp
from bench.common import PRODUCTION_ROUNDS, BenchDatabase, default_pg, machine
from erpcore.addons.base.models.res_users import crypt_context
from erpcore.config import Config
from erpcore.modules.loading import create_database, install
from erpcore.server import Server

Row = tuple[str, float, float, int, str]


def timed(name: str, call: Callable[[int], object], repeat: int,
          engine: sa.Engine | None = None) -> Row:
    """Call ``call(i)`` *repeat* times; the median and p99 in microseconds.

    With *engine*, also the number of SQL statements one call sends.
    """
    for i in range(min(20, repeat)):  # warm caches and connections first
        call(-1 - i)
    statements = ""
    if engine is not None:
        sent = []

        def count(*_args: object) -> None:
            sent.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            call(-100)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        statements = str(len(sent))
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return name, statistics.median(samples) * 1e6, p99 * 1e6, repeat, statements


def raw_costs(repeat: int) -> list[Row]:
    secret = totp.generate_secret()
    now = time.time()
    right = totp.code_at(secret, now)
    wrong = next(f"{n:06d}" for n in range(1_000_000)
                 if totp.match(secret, f"{n:06d}", now) is None
                 and totp.drift(secret, f"{n:06d}", now) is None)
    message = (totp.step_at(now)).to_bytes(8, "big")
    return [
        timed("HMAC-SHA1 alone (hmac module, 8-byte counter)",
              lambda _i: hmac.digest(secret, message, "sha1"), repeat * 10),
        timed("one code: totp.code_at_step (1 HMAC + truncation)",
              lambda i: totp.code_at_step(secret, 1000 + i), repeat * 10),
        timed("totp.match, right code (window: 3 HMACs)",
              lambda _i: totp.match(secret, right, now), repeat * 10),
        timed("totp.match + totp.drift, wrong code (3 + 21 HMACs)",
              lambda _i: (totp.match(secret, wrong, now), totp.drift(secret, wrong, now)),
              repeat * 10),
    ]


def password_costs() -> list[Row]:
    rows = []
    for rounds, repeat in ((1000, 200), (PRODUCTION_ROUNDS, 5)):
        context = crypt_context(rounds)
        hashed = context.hash("bench-password-1")
        rows.append(timed(f"password check, pbkdf2_sha512 at {rounds} rounds",
                          lambda _i, c=context, h=hashed: c.verify("bench-password-1", h),
                          repeat))
    return rows


def check_costs(server: Server, label: str, repeat: int) -> list[Row]:
    """``_totp_check`` on *server*'s database, for one user with 2FA on."""
    secret = totp.generate_secret()
    with server.environment() as env:
        user = env["res.users"].create({
            "login": f"check-{time.monotonic_ns()}", "name": "Check",
            "group_ids": [env.ref("base.group_user").id],
            "totp_secret": totp.to_base32(secret)})
        uid = user.id
    start = time.time()
    step = [0]

    def accepted_in_own_transaction(_i: int) -> None:
        step[0] += 1  # a later step each time: the code of a step is accepted once
        now = start + step[0] * totp.PERIOD
        with server.environment() as env:
            check = env["res.users"].browse(uid)._totp_check(totp.code_at(secret, now), now)
            assert check.verdict.value == "accepted", check

    engine = server.engine
    rows = [timed(f"{label}: _totp_check, accepted, in a transaction of its own",
                  accepted_in_own_transaction, repeat, engine)]
    with server.environment() as env:
        user = env["res.users"].browse(uid)

        def accepted(_i: int) -> None:
            step[0] += 1
            now = start + step[0] * totp.PERIOD
            assert user._totp_check(totp.code_at(secret, now), now).verdict.value == "accepted"

        def replayed(_i: int) -> None:
            now = start + step[0] * totp.PERIOD
            assert user._totp_check(totp.code_at(secret, now), now).verdict.value == "reused"

        now = start
        wrong = next(f"{n:06d}" for n in range(1_000_000)
                     if totp.match(secret, f"{n:06d}", now) is None
                     and totp.drift(secret, f"{n:06d}", now) is None)

        def refused(_i: int) -> None:
            env.invalidate(user)  # as a new request would: read the row again
            assert user._totp_check(wrong, now).verdict.value == "wrong"

        field = user._fields["totp_secret"]
        sealed = env.cache_row(user)["totp_secret"]

        rows += [
            timed(f"{label}: _totp_check, accepted (row read, secret opened, 3 HMACs, "
                  "conditional UPDATE)", accepted, repeat, engine),
            timed(f"{label}: _totp_check, replayed code (UPDATE changes no row)",
                  replayed, repeat, engine),
            timed(f"{label}: _totp_check, wrong code (row read, secret opened, 24 HMACs)",
                  refused, repeat, engine),
            timed("opening the sealed secret alone (AES-256-GCM)",
                  lambda _i: env.unseal(sealed, user, field), repeat * 10),
        ]
    return rows


def sqlite_server(folder: Path) -> Server:
    server = Server(Config(data_dir=folder))
    server.prepare_data_dir()
    create_database(server, "bench-admin-password-1", password_rounds=1000)
    with server.transaction() as conn:
        install(server, conn, ["auth_totp"])
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=default_pg(), help="a PostgreSQL server on this machine")
    parser.add_argument("--repeat", type=int, default=300, help="calls per measurement")
    args = parser.parse_args()
    if not 10 <= args.repeat <= 10_000:
        parser.error("--repeat is between 10 and 10000")
    print(f"machine: {machine()}", flush=True)
    rows = raw_costs(args.repeat)
    database = BenchDatabase(args.pg, 1000)
    try:
        rows += check_costs(database.server, "PostgreSQL", args.repeat)
    finally:
        database.drop()
    with tempfile.TemporaryDirectory(prefix="erpcore-bench-") as folder:
        server = sqlite_server(Path(folder))
        try:
            rows += check_costs(server, "SQLite", args.repeat)[:2]
        finally:
            server.dispose()
    rows += password_costs()
    print()
    print("| what | median µs | p99 µs | calls | SQL statements per call |")
    print("|---|---|---|---|---|")
    for name, median, p99, calls, statements in rows:
        print(f"| {name} | {median:,.1f} | {p99:,.1f} | {calls} | {statements} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
