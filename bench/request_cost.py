"""The server's own cost per request: a full sign-in with 2FA, beside a hello app (the floor).

Run from the repository's root::

    python -m bench.request_cost [--pg URL] [--rounds 1000] [--http-rounds 1000]
    python -m bench.request_cost --trace          # the SQL of one sign-in, request by request
    python -m bench.request_cost --bytecode 20    # Python instructions per request, exact
    python -m bench.request_cost --against ../main  # over HTTP, in turns with another checkout
    python -m bench.request_cost --pause 2         # in-process, 2 ms idle before each request

A full sign-in is what a browser does, five requests: ``GET /web/login``,
``POST /web/login`` (the password), ``GET /web/login/totp``, ``POST
/web/login/totp`` (the code), ``GET /web``. Passwords are hashed with 1,000
pbkdf2 rounds, so that the rest of the server shows (one such hash is about
0.7 ms). Each round is a new browser and a new user (users are made first,
one per round, each with its own 2FA secret), on SQLite and on PostgreSQL.

Two measurements:

* **in-process**: the real WSGI application (:class:`erpcore.http.app.Application`)
  called directly, no socket; per request, the SQL statements sent (a
  SQLAlchemy ``before_cursor_execute`` listener, in rounds of their own), the
  wall time and the CPU time of this process (``time.process_time``: the
  server's Python, SQLAlchemy and SQLite; PostgreSQL's own process is not
  counted), as the median and the 10th percentile of the rounds: on a
  machine shared with other work, the low percentile is the cost when the
  neighbours leave the caches alone, the median what a request met that
  day. Environ building and cookie handling happen outside the timed call.
  With ``--pause MS``, the process sleeps before each timed request: the
  same requests, started on a CPU left idle meanwhile, as a server with one
  client at a time is (the machine's caches are then cold: see
  doc/benchmarks.md).
  Beside it, the floor: a bare WSGI hello function, and a Werkzeug hello
  that parses the request and builds a response as the application does.
* **over HTTP**: ``erpcore serve --workers 0`` (waitress, one process) in a
  process of its own, against a hello WSGI app served by waitress with the
  same options in another; a client in this process signs in
  ``--http-rounds`` times, one after the other; the server's CPU (user and
  system, from ``/proc``) per sign-in, over the whole run and per turn of 50
  sign-ins (the median turn, and the lowest). With ``--against CHECKOUT`` (another
  checkout of this repository: the main branch, or the code an issue
  measured), that checkout's ``erpcore serve`` runs too, on a database of
  the same kind made by that checkout's own code, and the two take turns of
  50 sign-ins: a before/after comparison in which both sides see the same
  load on a shared machine.

Loopback only; everything made is removed at the end. Bounded: about a
minute per 1,000 rounds on two idle CPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy import event
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response

from auth_totp import totp
from bench.common import (
    PASSWORD,
    ROOT,
    BenchDatabase,
    admin_statement,
    default_pg,
    free_port,
    machine,
)
from erpcore.config import Config
from erpcore.http.app import Application
from erpcore.modules.loading import create_database, install
from erpcore.server import Server

ROUNDS_HASH = 1000
#: sign-ins first, neither counted nor timed: registry, templates, pool, caches
WARM_UP = 5
CSRF_RE = re.compile(rb'name="csrf_token" value="([0-9a-f]+)"')
REQUESTS = ["GET /web/login", "POST /web/login", "GET /web/login/totp",
            "POST /web/login/totp", "GET /web"]


# -- databases ---------------------------------------------------------------------


@dataclass
class Database:
    """A throwaway database with auth_totp installed, and users to sign in."""

    label: str
    config: Config
    url: str
    folder: Path
    drop: Callable[[], None]
    users: list[tuple[str, bytes]] = field(default_factory=list)

    def server(self, clock: Callable[[], float] = time.time) -> Server:
        return Server(self.config, clock=clock)

    def create_users(self, count: int) -> None:
        """*count* users with a password and 2FA on, none of whose codes was used yet."""
        server = self.server()
        start = len(self.users)
        with server.environment() as env:
            group = env.ref("base.group_user").id
            for index in range(start, start + count):
                login = f"cost{index:05d}"
                secret = totp.generate_secret()
                env["res.users"].create({
                    "login": login, "name": login, "password": PASSWORD,
                    "group_ids": [group], "totp_secret": totp.to_base32(secret),
                    "totp_enabled_at": time.time()})
                self.users.append((login, secret))
        server.dispose()


@contextlib.contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="erpcore-bench-") as folder:
        config = Config(data_dir=Path(folder) / "data")
        server = Server(config)
        server.prepare_data_dir()
        create_database(server, "bench-admin-password-1", password_rounds=ROUNDS_HASH)
        with server.transaction() as conn:
            install(server, conn, ["auth_totp"])
        server.dispose()
        yield Database("SQLite", config, config.database_url, Path(folder), lambda: None)


@contextlib.contextmanager
def pg_database(pg_url: str) -> Iterator[Database]:
    bench = BenchDatabase(pg_url, ROUNDS_HASH)
    bench.server.dispose()
    try:
        yield Database("PostgreSQL", bench.config, bench.url, bench.folder, bench.drop)
    finally:
        bench.drop()


# -- in-process ----------------------------------------------------------------------


class Browser:
    """Cookies and the last page's CSRF token, for WSGI calls made by hand."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def environ(self, method: str, path: str, data: dict[str, str] | None = None) -> dict:
        headers = {"Accept-Language": "en", "User-Agent": "bench"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        builder = EnvironBuilder(path=path, method=method, data=data, headers=headers,
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"})
        try:
            return builder.get_environ()
        finally:
            builder.close()

    def absorb(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        for name, value in headers:
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    self.cookies[morsel.key] = morsel.value
        match = CSRF_RE.search(body)
        if match:
            self.csrf = match.group(1).decode()


def call(app: Any, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    """One WSGI call, the body read to its end."""
    answer: list[Any] = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        answer[:] = [status, headers]

    iterable = app(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return answer[0], answer[1], body


def sign_in_steps(browser: Browser, login: str, secret: bytes, clock: Callable[[], float]
                  ) -> list[Callable[[], dict]]:
    """The five requests of a sign-in, each a function building its environ when due."""
    return [
        lambda: browser.environ("GET", "/web/login"),
        lambda: browser.environ("POST", "/web/login", {
            "login": login, "password": PASSWORD, "csrf_token": browser.csrf}),
        lambda: browser.environ("GET", "/web/login/totp"),
        lambda: browser.environ("POST", "/web/login/totp", {
            "totp_token": totp.code_at(secret, clock()), "csrf_token": browser.csrf}),
        lambda: browser.environ("GET", "/web"),
    ]


EXPECTED = ["200", "303", "200", "303", "200"]


@dataclass
class Costs:
    """Per request of the sign-in: statements sent, wall and CPU seconds of each round."""

    statements: list[list[int]] = field(default_factory=lambda: [[] for _ in REQUESTS])
    wall: list[list[float]] = field(default_factory=lambda: [[] for _ in REQUESTS])
    cpu: list[list[float]] = field(default_factory=lambda: [[] for _ in REQUESTS])
    trace: list[list[str]] = field(default_factory=lambda: [[] for _ in REQUESTS])


def run_in_process(database: Database, rounds: int, counted: int, trace: bool = False,
                   profile: cProfile.Profile | None = None, pause: float = 0.0) -> Costs:
    """*WARM_UP* sign-ins, *counted* with a statement listener, then *rounds* timed
    without it (and profiled, with *profile*: the WSGI calls only). With *pause*,
    the process sleeps that many seconds before each timed request, as a server
    waits for the next request of a client served alone."""
    server = database.server()
    app = Application(server)
    costs = Costs()
    sent: list[str] = []

    def listen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement != "BEGIN":  # transaction control: psycopg sends it unseen
            sent.append(statement)

    users = iter(database.users)
    for index in range(WARM_UP + counted + rounds):
        counting = WARM_UP <= index < WARM_UP + counted
        timing = index >= WARM_UP + counted
        if counting:
            event.listen(server.engine, "before_cursor_execute", listen)
        login, secret = next(users)
        browser = Browser()
        for number, build in enumerate(sign_in_steps(browser, login, secret, server.clock)):
            environ = build()
            sent.clear()
            if timing and pause:
                time.sleep(pause)
            if timing and profile is not None:
                profile.enable()
            wall, cpu = time.perf_counter(), time.process_time()
            status, headers, body = call(app, environ)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if timing and profile is not None:
                profile.disable()
            if not status.startswith(EXPECTED[number]):
                raise SystemExit(f"bench: {REQUESTS[number]} of {login} gave {status}")
            browser.absorb(status, headers, body)
            if counting:
                costs.statements[number].append(len(sent))
                if trace and index == WARM_UP + counted - 1:
                    costs.trace[number] = list(sent)
            elif timing:
                costs.wall[number].append(wall)
                costs.cpu[number].append(cpu)
        if counting:
            event.remove(server.engine, "before_cursor_execute", listen)
    server.dispose()
    return costs


def count_bytecode(database: Database, rounds: int) -> list[list[int]]:
    """Python bytecode instructions run per request, for *rounds* sign-ins after the
    warm-up: a count that does not move with the machine's load (``sys.settrace``
    with opcode events: slow, but exact). It leaves out work done in C (SQLite,
    the driver, hashing, regular expressions) and in other threads (the hash)."""
    server = database.server()
    app = Application(server)
    counts: list[list[int]] = [[] for _ in REQUESTS]
    executed = [0]

    def trace(frame: Any, event_: str, _arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event_ == "opcode":
            executed[0] += 1
        return trace

    users = iter(database.users)
    for index in range(WARM_UP + rounds):
        login, secret = next(users)
        browser = Browser()
        for number, build in enumerate(sign_in_steps(browser, login, secret, server.clock)):
            environ = build()
            executed[0] = 0
            if index >= WARM_UP:
                sys.settrace(trace)
            try:
                status, headers, body = call(app, environ)
            finally:
                sys.settrace(None)
            if not status.startswith(EXPECTED[number]):
                raise SystemExit(f"bench: {REQUESTS[number]} of {login} gave {status}")
            browser.absorb(status, headers, body)
            if index >= WARM_UP:
                counts[number].append(executed[0])
    server.dispose()
    return counts


def report_bytecode(results: dict[str, list[list[int]]]) -> None:
    labels = list(results)
    print()
    print("Python bytecode instructions per request (median of the rounds; the server's "
          "own thread, work in C not counted):")
    print()
    print("| request | " + " | ".join(labels) + " |")
    print("|---" * (1 + len(labels)) + "|")
    for number, name in enumerate(REQUESTS):
        print(f"| `{name}` | " + " | ".join(
            f"{statistics.median(results[lab][number]):,.0f}" for lab in labels) + " |")
    print("| **full sign-in** | " + " | ".join(
        f"{statistics.median(sum(r) for r in zip(*results[lab], strict=True)):,.0f}"
        for lab in labels) + " |")


def hello(environ: dict, start_response: Callable) -> list[bytes]:
    """The floor: a WSGI app that answers every request with a small page."""
    body = b"<!DOCTYPE html>\n<html><body>hello</body></html>"
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


def werkzeug_hello(environ: dict, start_response: Callable) -> Any:
    """The floor with Werkzeug: the request parsed (form, cookies), a Response built."""
    request = WerkzeugRequest(environ)
    _ = request.form, request.cookies
    return Response("<!DOCTYPE html>\n<html><body>hello</body></html>",
                    mimetype="text/html")(environ, start_response)


def floor_in_process(app: Callable, rounds: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one call of *app*, for the five requests' shapes."""
    browser = Browser()
    walls, cpus = [], []
    for _ in range(rounds):
        for method, path in (tuple(r.split()) for r in REQUESTS):
            environ = browser.environ(method, path, {"a": "b"} if method == "POST" else None)
            wall, cpu = time.perf_counter(), time.process_time()
            call(app, environ)
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus)


# -- over HTTP -----------------------------------------------------------------------


class Serving:
    """A server process on a free loopback port, its CPU read from /proc."""

    def __init__(self, argv: list[str], log: Path, cwd: Path = ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *argv, "--http-port", str(self.port)], cwd=cwd, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: {argv[:3]} exited with {self.process.returncode}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.url + "/web/login", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"bench: {argv[:3]} did not start within 60 s")

    def cpu_seconds(self) -> float:
        fields_ = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()


def http_sign_in(url: str, login: str, secret: bytes) -> None:
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    page = session.get(url + "/web/login", timeout=30)
    page = session.post(url + "/web/login", timeout=30, data={
        "login": login, "password": PASSWORD,
        "csrf_token": CSRF_RE.search(page.content).group(1).decode()})
    page = session.post(url + "/web/login/totp", timeout=30, data={
        "totp_token": totp.code_at(secret, time.time()),
        "csrf_token": CSRF_RE.search(page.content).group(1).decode()})
    if not page.url.endswith("/web") or page.status_code != 200:
        raise SystemExit(f"bench: the sign-in of {login} ended on {page.url} ({page.status_code})")
    session.close()


def http_hello_round(url: str) -> None:
    session = requests.Session()
    for method, path in (tuple(r.split()) for r in REQUESTS):
        session.request(method, url + path, timeout=30,
                        data={"a": "b"} if method == "POST" else None)
    session.close()


def cpu_per_round(serving: Serving, rounds: int, one: Callable[[int], None]) -> list[float]:
    """Server CPU seconds per round, one value per turn of :data:`CHUNK` rounds."""
    for index in range(min(20, rounds)):  # warm up: imports, pools, templates
        one(index)
    chunks = []
    for start in range(0, rounds, CHUNK):
        before = serving.cpu_seconds()
        count = min(CHUNK, rounds - start)
        for index in range(count):
            one(20 + start + index)
        chunks.append((serving.cpu_seconds() - before) / count)
    return chunks


#: sign-ins per turn when two servers are measured in alternation
CHUNK = 50


def run_over_http(database: Database, rounds: int, label: str,
                  against: Path | None = None) -> dict[str, list[float]]:
    """Server CPU per sign-in of ``erpcore serve`` on *database*, by server name, one
    value per turn of :data:`CHUNK` sign-ins.

    With *against* (another checkout of the repository), its ``erpcore serve``
    runs too, on a database of the same kind made by its own code
    (:func:`checkout_database`), and the two take turns of :data:`CHUNK`
    sign-ins each, so that both see the same load on a shared machine.
    """
    with contextlib.ExitStack() as stack:
        sides = [(f"erpcore on {label}", ROOT, database.config.data_dir, database.url,
                  database.users[-(rounds + 20):])]
        if against is not None:
            sides.append((f"erpcore on {label}, {against.name} (--against)", against,
                          *stack.enter_context(checkout_database(database, against,
                                                                 rounds + 20))))
        servers, users = {}, {}
        for index, (name, tree, data_dir, url, accounts) in enumerate(sides):
            argv = ["-m", "erpcore", "serve", "--workers", "0", "--http-interface",
                    "127.0.0.1", "--data-dir", str(data_dir), "--db", url,
                    "--log-level", "warning"]
            servers[name] = Serving(argv, database.folder / f"serve-{index}.log", cwd=tree)
            stack.callback(servers[name].stop)
            users[name] = iter(accounts)
        spent: dict[str, list[float]] = {name: [] for name in servers}
        for name, serving in servers.items():  # warm up: imports, pools, templates
            for _ in range(20):
                http_sign_in(serving.url, *next(users[name]))
        for start in range(0, rounds, CHUNK):
            for name, serving in servers.items():
                before = serving.cpu_seconds()
                count = min(CHUNK, rounds - start)
                for _ in range(count):
                    http_sign_in(serving.url, *next(users[name]))
                spent[name].append((serving.cpu_seconds() - before) / count)
        return spent


@contextlib.contextmanager
def checkout_database(database: Database, checkout: Path, count: int
                      ) -> Iterator[tuple[Path, str, list[tuple[str, bytes]]]]:
    """A database of *database*'s kind made by *checkout*'s own code, with *count*
    users: its data directory, URL and users. Removed on exit.

    Its own code makes it (``bench/checkout_database.py``, run in that
    checkout), so an older checkout gets the tables it knows: the comparison
    can reach back to the code issue 10 measured.
    """
    folder = database.folder / f"against-{checkout.name}"
    extra = []
    if database.url.startswith("postgresql"):
        url = sa.engine.make_url(database.url)
        name = f"{url.database}_against"
        admin_statement(database.url, f'CREATE DATABASE "{name}"')
        extra = [url.set(database=name).render_as_string(hide_password=False)]
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
        made = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "checkout_database.py"), str(folder),
             str(count), *extra], cwd=checkout, env=env, check=True, capture_output=True)
        found = json.loads(made.stdout)
        yield (folder / "data", found["url"],
               [(login, bytes.fromhex(secret)) for login, secret in found["users"]])
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"bench: {checkout} could not make its database:\n"
                         f"{exc.stderr.decode(errors='replace')}") from exc
    finally:
        if extra:
            admin_statement(database.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_hello_over_http(rounds: int, folder: Path) -> list[float]:
    serving = Serving(["-m", "bench.request_cost", "--serve-hello"], folder / "hello.log")
    try:
        return cpu_per_round(serving, rounds, lambda _i: http_hello_round(serving.url))
    finally:
        serving.stop()


def serve_hello(port: int) -> int:
    """The floor over HTTP: the hello app behind waitress, with erpcore's options."""
    import waitress

    from erpcore.service import waitress_options

    httpd = waitress.create_server(hello, host="127.0.0.1", port=port,
                                   **waitress_options(Config(data_dir=Path(tempfile.gettempdir()))))
    with contextlib.suppress(KeyboardInterrupt):
        httpd.run()
    httpd.close()
    return 0


# -- report --------------------------------------------------------------------------


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def describe(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def low(values: list[float]) -> float:
    """The 10th percentile: the cost when neighbours on a shared machine leave it alone."""
    return sorted(values)[len(values) // 10]


def ms(values: list[float]) -> str:
    """'median / 10th percentile', in milliseconds."""
    return f"{statistics.median(values) * 1e3:.2f} / {low(values) * 1e3:.2f}"


def report(results: dict[str, Costs], floors: dict[str, tuple[float, float]],
           http: dict[str, list[float]], loads: dict[str, str], pause: float = 0.0) -> None:
    labels = list(results)
    print()
    print("In-process, per request: median / 10th percentile of the timed rounds, ms "
          "(CPU: of this process)" + (f"; {pause * 1e3:g} ms of sleep before each request"
                                      if pause else ""))
    print()
    head = " | ".join(f"{lab}: statements | {lab}: wall | {lab}: CPU" for lab in labels)
    print(f"| request | {head} |")
    print("|---" * (1 + 3 * len(labels)) + "|")
    for number, name in enumerate(REQUESTS):
        cells = []
        for lab in labels:
            costs = results[lab]
            cells += [describe(costs.statements[number]), ms(costs.wall[number]),
                      ms(costs.cpu[number])]
        print(f"| `{name}` | " + " | ".join(cells) + " |")
    cells = []
    for lab in labels:
        costs = results[lab]
        total = [sum(round_) for round_ in zip(*costs.statements, strict=True)]
        walls = [sum(round_) for round_ in zip(*costs.wall, strict=True)]
        cpus = [sum(round_) for round_ in zip(*costs.cpu, strict=True)]
        cells += [describe(total), ms(walls), ms(cpus)]
    print("| **full sign-in** | " + " | ".join(cells) + " |")
    cells = []
    for lab in labels:
        costs = results[lab]
        walls = [sum(round_) for round_ in zip(*costs.wall, strict=True)]
        cpus = [sum(round_) for round_ in zip(*costs.cpu, strict=True)]
        cells += ["", f"{statistics.mean(walls) * 1e3:.2f}", f"{statistics.mean(cpus) * 1e3:.2f}"]
    print("| full sign-in, mean | " + " | ".join(cells) + " |")
    for name, (wall, cpu) in floors.items():
        print(f"| floor, {name} (per request, median) | " + " | ".join(
            f"0 | {wall * 1e3:.3f} | {cpu * 1e3:.3f}" for _ in labels) + " |")
    if not http:
        return
    print()
    print(f"Over HTTP (waitress, one process), server CPU per full sign-in (5 requests), "
          f"ms: over the whole run; median and lowest of its turns of {CHUNK}:")
    print()
    print("| server | whole run | median turn | lowest turn | load |")
    print("|---|---|---|---|---|")
    for name, chunks in http.items():
        print(f"| {name} | {statistics.mean(chunks) * 1e3:.2f} | "
              f"{statistics.median(chunks) * 1e3:.2f} | {min(chunks) * 1e3:.2f} | "
              f"{loads[name]} |")
    for name, chunks in http.items():
        mine, _, other = name.partition(", ")
        if other.endswith("(--against)") and mine in http:
            ratio = statistics.mean(http[mine]) / statistics.mean(chunks)
            print(f"\n{mine}: {ratio:.2f} of the CPU of {other.removesuffix(' (--against)')}, "
                  f"in the same turns")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=default_pg(), help="a PostgreSQL server on this machine")
    parser.add_argument("--rounds", type=int, default=1000, help="timed in-process sign-ins")
    parser.add_argument("--counted", type=int, default=20,
                        help="in-process sign-ins whose statements are counted")
    parser.add_argument("--http-rounds", type=int, default=1000,
                        help="sign-ins over HTTP (0: none)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--trace", action="store_true",
                        help="print the SQL of one sign-in, request by request")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT",
                        help="another checkout (the main branch, say) served over HTTP "
                             "too, the two in alternation: before/after on a shared machine")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="profile the timed in-process requests into PREFIX-BACKEND.pstats")
    parser.add_argument("--bytecode", type=int, metavar="ROUNDS", default=0,
                        help="only count the Python bytecode run per request, over ROUNDS "
                             "sign-ins: exact, whatever the machine's load")
    parser.add_argument("--pause", type=float, default=0.0, metavar="MS",
                        help="in-process, sleep MS milliseconds before each timed request "
                             "(a CPU left idle between requests, as over HTTP with one client)")
    parser.add_argument("--serve-hello", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--http-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        return serve_hello(args.http_port)
    if not (1 <= args.rounds <= 100_000 and 1 <= args.counted <= 1000
            and 0 <= args.http_rounds <= 100_000 and 0 <= args.pause <= 1000):
        parser.error("--rounds 1..100000, --counted 1..1000, --http-rounds 0..100000, "
                     "--pause 0..1000")
    print(f"machine: {machine()}", flush=True)
    makers = {"sqlite": sqlite_database, "postgresql": lambda: pg_database(args.pg)}
    chosen = list(makers) if args.backend == "both" else [args.backend]
    if args.bytecode:
        counted: dict[str, list[list[int]]] = {}
        for kind in chosen:
            with makers[kind]() as database:
                database.create_users(WARM_UP + args.bytecode)
                counted[database.label] = count_bytecode(database, args.bytecode)
        report_bytecode(counted)
        return 0
    results: dict[str, Costs] = {}
    http: dict[str, list[float]] = {}
    loads: dict[str, str] = {}
    for kind in chosen:
        with makers[kind]() as database:
            over_http = args.http_rounds + 20 if args.http_rounds else 0
            need = WARM_UP + args.counted + args.rounds + over_http
            database.create_users(need)
            loads[database.label] = load()
            print(f"{database.label}: in-process, load {loads[database.label]}", flush=True)
            profile = cProfile.Profile() if args.profile else None
            results[database.label] = run_in_process(
                database, args.rounds, args.counted, args.trace, profile, args.pause / 1e3)
            if profile is not None:
                path = f"{args.profile}-{kind}.pstats"
                profile.dump_stats(path)
                print(f"profile of the in-process requests: {path}")
                pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            if args.http_rounds:
                started = load()
                print(f"{database.label}: over HTTP, load {started}", flush=True)
                measured = run_over_http(database, args.http_rounds, database.label,
                                         args.against)
                http.update(measured)
                loads.update(dict.fromkeys(measured, f"{started} to {load()}"))
    floors = {"bare WSGI hello": floor_in_process(hello, args.rounds),
              "Werkzeug hello": floor_in_process(werkzeug_hello, args.rounds)}
    if args.http_rounds:
        with tempfile.TemporaryDirectory(prefix="erpcore-bench-") as folder:
            name = "hello WSGI app (the floor)"
            started = load()
            http[name] = run_hello_over_http(args.http_rounds, Path(folder))
            loads[name] = f"{started} to {load()}"
    if args.trace:
        for label, costs in results.items():
            print(f"\n{label}: the statements of one sign-in")
            for name, statements in zip(REQUESTS, costs.trace, strict=True):
                print(f"\n  {name}: {len(statements)}")
                for statement in statements:
                    print("    " + " ".join(statement.split())[:160])
    report(results, floors, http, loads, args.pause / 1e3)
    print(f"\nload average after the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
