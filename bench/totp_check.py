"""Micro-benchmark: what checking a code costs, beside the floor, Odoo's loop and pyotp.

Run from the repository's root::

    python -m bench.totp_check [--pg URL] [--repeat 300]

In one run, per call (median and 99th percentile of ``--repeat`` calls,
ten times as many for the pure computations):

* **the floor**: one HMAC-SHA1 over an 8-byte counter,
  ``hmac.new(key, counter, "sha1").digest()``; every code costs one;
* **Odoo's loop, re-created** (:func:`odoo_style_match`): what Odoo's
  ``auth_totp`` does to check a code (read in its public source; this is
  our own code doing the same arithmetic): the base32 secret decoded, then
  for each step of a window of 30 s on each side of now, in order, one
  HMAC-SHA1 in pure Python, truncated to an integer and compared with
  ``==`` to the code typed, stopping at the first match; nothing recorded;
* **pyotp's own** ``TOTP.verify(code, valid_window=1)``: the same window,
  through pyotp, which compares strings in constant time but records
  nothing either (a code can be replayed);
* **our** ``totp.probe`` alone: the window's codes computed once each,
  compared in constant time, and for a wrong code the drift range (ten
  steps each side) for the clock message;
* **our check** ``res.users._totp_check`` through the model, on a SQLite
  file and on PostgreSQL: the user's row read (as a request reads it),
  the sealed secret opened (AES-256-GCM), ``totp.probe``, and for an
  accepted code the conditional UPDATE that makes it single-use. The
  statements each call sends are counted. Each accepted call uses the
  code of a later step (a step is accepted once), the check's injected
  clock moved on by 30 s.

Then the password hash that precedes every code at sign-in, at 1,000 and
at the production 600,000 pbkdf2_sha512 rounds. The 1-minute load average
is printed with every row. Bounded: well under a minute at the default
repeat.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
from sqlalchemy import event

from auth_totp import totp
from bench.common import PRODUCTION_ROUNDS, BenchDatabase, default_pg, machine
from erpcore.addons.base.models.res_users import crypt_context
from erpcore.config import Config
from erpcore.modules.loading import create_database, install
from erpcore.server import Server

Row = tuple[str, float, float, int, str, str]


def odoo_style_match(secret_b32: str, code: int, t: float, window: int = 30,
                     step: int = 30) -> int | None:
    """The step whose code is *code* in ``[t - window, t + window]``, Odoo's way.

    Our re-creation of the arithmetic of Odoo's ``auth_totp`` check: steps
    from ``int((t - window) / step)`` up to ``int((t + window) / step)``, one
    HMAC-SHA1 each over the big-endian 64-bit counter, RFC 4226's dynamic
    truncation to a 31-bit integer, modulo 10**6, compared with ``==``; the
    first match wins.
    """
    key = base64.b32decode(secret_b32)
    for counter in range(int((t - window) / step), int((t + window) / step) + 1):
        mac = hmac.new(key, struct.pack(">Q", counter), "sha1").digest()
        offset = mac[-1] & 0x0F
        value = (struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**6
        if value == code:
            return counter
    return None


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def timed(name: str, call: Callable[[int], object], repeat: int,
          count: Callable[[Callable[[], object]], int] | None = None) -> Row:
    """Call ``call(i)`` *repeat* times; the median and p99 in microseconds.

    With *count*, also the number of SQL statements one call sends.
    """
    for i in range(min(20, repeat)):  # warm caches and connections first
        call(-1 - i)
    statements = str(count(lambda: call(-100))) if count else ""
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return name, statistics.median(samples) * 1e6, p99 * 1e6, repeat, statements, load()


def statement_counter(engine) -> Callable[[Callable[[], object]], int]:  # noqa: ANN001
    """How many statements (transaction control aside) one call sends through *engine*."""

    def count(call: Callable[[], object]) -> int:
        sent: list[str] = []

        def listen(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
            if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
                sent.append(statement)

        event.listen(engine, "before_cursor_execute", listen)
        try:
            call()
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        return len(sent)

    return count


def nowhere_code(secret: bytes, now: float) -> str:
    """A code that matches no step of the drift range around *now*."""
    return next(code for code in (f"{n:06d}" for n in range(1_000_000))
                if totp.probe(secret, code, now) == totp.Probe())


def computation_costs(repeat: int) -> list[Row]:
    """The pure computations: no database, nothing stored."""
    secret = totp.generate_secret()
    secret_b32 = totp.to_base32(secret)
    now = time.time()
    right = totp.code_at(secret, now)
    wrong = nowhere_code(secret, now)
    counter = struct.pack(">Q", totp.step_at(now))
    otp = pyotp.TOTP(secret_b32)
    assert odoo_style_match(secret_b32, int(right), now) == totp.step_at(now)
    assert odoo_style_match(secret_b32, int(wrong), now) is None
    assert otp.verify(right, for_time=now, valid_window=1)
    assert not otp.verify(wrong, for_time=now, valid_window=1)
    many = repeat * 10
    return [
        timed("the floor: one HMAC-SHA1, `hmac.new(key, counter, \"sha1\").digest()`",
              lambda _i: hmac.new(secret, counter, "sha1").digest(), many),
        timed("Odoo's loop re-created, right code (base32 decode, 2 of 3 HMACs, `==`)",
              lambda _i: odoo_style_match(secret_b32, int(right), now), many),
        timed("Odoo's loop re-created, wrong code (base32 decode, 3 HMACs, `==`)",
              lambda _i: odoo_style_match(secret_b32, int(wrong), now), many),
        timed("pyotp `TOTP.verify(code, valid_window=1)`, right code",
              lambda _i: otp.verify(right, for_time=now, valid_window=1), many),
        timed("pyotp `TOTP.verify(code, valid_window=1)`, wrong code",
              lambda _i: otp.verify(wrong, for_time=now, valid_window=1), many),
        timed("our `totp.probe`, right code (the window: 3 codes, constant-time compare)",
              lambda _i: totp.probe(secret, right, now), many),
        timed("our `totp.probe`, wrong code (window and drift range: 21 codes)",
              lambda _i: totp.probe(secret, wrong, now), many),
    ]


def check_costs(server: Server, label: str, repeat: int) -> list[Row]:
    """``res.users._totp_check`` on *server*'s database, for one user with 2FA on."""
    secret = totp.generate_secret()
    with server.environment() as env:
        user = env["res.users"].create({
            "login": f"check-{time.monotonic_ns()}", "name": "Check",
            "group_ids": [env.ref("base.group_user").id],
            "totp_secret": totp.to_base32(secret)})
        uid = user.id
    start = time.time()
    step = [0]
    count = statement_counter(server.engine)

    def accepted_in_own_transaction(_i: int) -> None:
        step[0] += 1  # a later step each time: the code of a step is accepted once
        now = start + step[0] * totp.PERIOD
        with server.environment() as env:
            check = env["res.users"].browse(uid)._totp_check(totp.code_at(secret, now), now)
            assert check.verdict.value == "accepted", check

    rows = [timed(f"{label}: `_totp_check`, accepted, in a transaction of its own "
                  "(as a request has it, commit included)",
                  accepted_in_own_transaction, repeat, count)]
    with server.environment() as env:
        user = env["res.users"].browse(uid)

        def accepted(_i: int) -> None:
            step[0] += 1
            now = start + step[0] * totp.PERIOD
            env.invalidate(user)  # as a new request would: read the row again
            assert user._totp_check(totp.code_at(secret, now), now).verdict.value == "accepted"

        wrong = nowhere_code(secret, start)

        def refused(_i: int) -> None:
            env.invalidate(user)
            assert user._totp_check(wrong, start).verdict.value == "wrong"

        rows += [
            timed(f"{label}: `_totp_check`, accepted (row read, secret opened, probe, "
                  "conditional UPDATE)", accepted, repeat, count),
            timed(f"{label}: `_totp_check`, refused (row read, secret opened, probe: "
                  "21 codes, nothing written)", refused, repeat, count),
        ]
    return rows


def password_costs() -> list[Row]:
    rows = []
    for rounds, repeat in ((1000, 200), (PRODUCTION_ROUNDS, 5)):
        context = crypt_context(rounds)
        hashed = context.hash("bench-password-1")
        rows.append(timed(f"for scale: the password check before it, pbkdf2_sha512 at "
                          f"{rounds:,} rounds",
                          lambda _i, c=context, h=hashed: c.verify("bench-password-1", h),
                          repeat))
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
    rows = computation_costs(args.repeat)
    with tempfile.TemporaryDirectory(prefix="erpcore-bench-") as folder:
        server = sqlite_server(Path(folder))
        try:
            rows += check_costs(server, "SQLite", args.repeat)
        finally:
            server.dispose()
    database = BenchDatabase(args.pg, 1000)
    try:
        rows += check_costs(database.server, "PostgreSQL", args.repeat)
    finally:
        database.drop()
    rows += password_costs()
    print()
    print("| what | median µs | p99 µs | calls | SQL statements per call | load |")
    print("|---|---|---|---|---|---|")
    for name, median, p99, calls, statements, row_load in rows:
        print(f"| {name} | {median:,.1f} | {p99:,.1f} | {calls:,} | {statements} | {row_load} |")
    print(f"\nload average after the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
