"""Availability: other clients' latency while clients stall or sign in (issue 9).

For each database (SQLite, then PostgreSQL) and each ``--workers`` value, a
real ``erpcore serve`` with passwords at 600,000 rounds is measured:

1. the latency of ``GET /web/login`` from a new visitor (who gets a new
   session: a write), idle, then while 50 connections stall (a third send
   headers only, a third part of a body, a third one byte of a body every
   10 s), then while 4 clients sign in over and over;
2. 4 sign-ins in a row, then 4 at once: the ratio of their times (2 CPUs:
   0.5 is the floor).

Run by hand, never as a test::

    python -m bench.availability [--pg URL] [--workers 0,2] [--samples 300]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

from bench.common import BenchDatabase, ServerProcess, default_pg, machine
from erpcore.addons.base.models.res_users import crypt_context
from erpcore.config import Config
from erpcore.modules.loading import create_database
from erpcore.server import Server

ROUNDS = 600_000
PASSWORD = "bench-password-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class SqliteDatabase:
    """What :class:`bench.common.BenchDatabase` gives, on a SQLite file of its own."""

    def __init__(self, rounds: int):
        self.folder = Path(tempfile.mkdtemp(prefix="erpcore-bench-"))
        self.config = Config(data_dir=self.folder / "data")
        self.url = ""
        self.server = Server(self.config)
        self.server.prepare_data_dir()
        create_database(self.server, PASSWORD, password_rounds=rounds)

    def drop(self) -> None:
        self.server.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)


def add_users(server: Server, count: int, rounds: int) -> list[str]:
    """*count* users sharing one password hash (computed once: it takes half a second)."""
    hashed = crypt_context(rounds).hash(PASSWORD)
    logins = [f"user{n}" for n in range(count)]
    with server.environment() as env:
        group = env.ref("base.group_user").id
        for login in logins:
            env["res.users"].create({"login": login, "name": login, "group_ids": [group]})
        env.conn.execute(sa.text("UPDATE res_users SET password = :h WHERE login LIKE 'user%'"),
                         {"h": hashed})
    return logins


# -- clients ---------------------------------------------------------------------------------


def visit(url: str) -> float:
    """A new visitor's GET /web/login (a new session is written); its latency in ms."""
    started = time.perf_counter()
    response = requests.get(url + "/web/login", timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def sign_in(url: str, login: str) -> float:
    """A whole sign-in (page, password, home); its time in seconds."""
    started = time.perf_counter()
    with requests.Session() as session:
        page = session.get(url + "/web/login", timeout=120)
        token = CSRF_RE.search(page.text).group(1)
        done = session.post(url + "/web/login", timeout=120, data={
            "login": login, "password": PASSWORD, "csrf_token": token})
    if not done.url.endswith("/web"):
        raise SystemExit(f"bench: the sign-in of {login} failed ({done.status_code})")
    return time.perf_counter() - started


def latencies(url: str, samples: int) -> list[float]:
    return [visit(url) for _ in range(samples)]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@contextlib.contextmanager
def stalled(url: str, count: int) -> Iterator[None]:
    """*count* connections that never finish their request, one third of each kind."""
    parts = urlsplit(url)
    socks: list[socket.socket] = []
    dripping: list[socket.socket] = []
    for n in range(count):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        if n % 3 == 0:
            sock.sendall(b"GET /web/login HTTP/1.1\r\nHost: x\r\n")
        else:
            sock.sendall(b"POST /web/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nl")
            if n % 3 == 2:
                dripping.append(sock)
        socks.append(sock)
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(10):
            for sock in dripping:
                with contextlib.suppress(OSError):
                    sock.sendall(b"x")

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    time.sleep(1)
    try:
        yield
    finally:
        stop.set()
        for sock in socks:
            sock.close()


def _sign_in_loop(url: str, logins: list[str], stop, times) -> None:
    """In a process of its own: one thread per login signing in until *stop* is set."""

    def loop(login: str) -> None:
        while not stop.is_set():
            times.append(sign_in(url, login))

    threads = [threading.Thread(target=loop, args=(login,)) for login in logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def signing_in(url: str, logins: list[str]) -> Iterator[list[float]]:
    """One client per login signing in over and over, in another process (so that its
    threads do not hold this one's GIL while the latency is measured here); yields the
    sign-in times."""
    manager = multiprocessing.Manager()
    stop, shared = manager.Event(), manager.list()
    process = multiprocessing.Process(target=_sign_in_loop, args=(url, logins, stop, shared))
    process.start()
    time.sleep(1.5)  # every client is in the middle of a sign-in
    times: list[float] = []  # filled when the block ends
    try:
        yield times
    finally:
        stop.set()
        process.join()
        times.extend(shared)
        manager.shutdown()


def parallel_ratio(url: str, logins: list[str], repeat: int = 3) -> tuple[float, float, float]:
    """Median time of 4 sign-ins in a row, of 4 at once, and the ratio."""
    in_row, at_once = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        for login in logins:
            sign_in(url, login)
        in_row.append(time.perf_counter() - started)
        threads = [threading.Thread(target=sign_in, args=(url, login)) for login in logins]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        at_once.append(time.perf_counter() - started)
    row, once = statistics.median(in_row), statistics.median(at_once)
    return row, once, once / row


# -- the run ---------------------------------------------------------------------------------


def measure(database, backend: str, workers: int, samples: int) -> list[str]:
    logins = add_users(database.server, 8, ROUNDS)
    database.server.dispose()
    server = ServerProcess(database, workers, ROUNDS)
    rows = []
    try:
        url = server.url
        latencies(url, 20)  # warm up
        idle = latencies(url, samples)
        with stalled(url, 50):
            stalls = latencies(url, samples)
        with signing_in(url, logins[:4]) as times:
            busy = latencies(url, samples)
        row, once, ratio = parallel_ratio(url, logins[4:8])
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        for name, values in (("idle", idle), ("50 stalled connections", stalls),
                             ("4 sign-ins running", busy)):
            rows.append(f"| {backend} | {workers} | {name} | {statistics.median(values):.1f} "
                        f"| {p99(values):.1f} | {p99(values) / p99(idle):.2f} | {load} |")
        rows.append(f"| {backend} | {workers} | 4 sign-ins: in a row {row:.2f} s, at once "
                    f"{once:.2f} s | | | ratio {ratio:.2f} | {load} |")
        if times:
            rows.append(f"| {backend} | {workers} | (one sign-in among 4 running: median "
                        f"{statistics.median(times):.2f} s) | | | | |")
    finally:
        server.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=default_pg(), help="a PostgreSQL server on this machine")
    parser.add_argument("--workers", default="0,2", help="worker counts, comma-separated")
    parser.add_argument("--samples", type=int, default=300, help="requests per measure")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(machine())
    print("| database | workers | while | median ms | p99 ms | p99 / idle p99 | load |")
    print("|---|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            database = SqliteDatabase(ROUNDS) if backend == "sqlite" \
                else BenchDatabase(args.pg, ROUNDS)
            try:
                for row in measure(database, backend, workers, args.samples):
                    print(row, flush=True)
            finally:
                database.drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
