"""Load: full sign-ins (password, then code) by many clients, against 1, 2 and 4 workers.

Run from the repository's root, on an idle machine if you can::

    python -m bench.signin_load                      # low password rounds (1000)
    python -m bench.signin_load --rounds 600000 --duration 30 --clients 8

One run makes a throwaway PostgreSQL database (``--pg``, default
``$ERPCORE_BENCH_PG``, ``$ERPCORE_TEST_PG`` or the dev server on
127.0.0.1:55432; loopback only), creates ``--users`` users with their own
2FA secret, then for each worker count starts ``erpcore serve --workers N``
on a free loopback port and lets ``--clients`` concurrent clients (threads
in two client processes) sign in for ``--duration`` seconds or
``--max-signins`` sign-ins, whichever comes first. Everything is removed at
the end.

A sign-in is what a browser does: GET /web/login, POST the password (and
follow to /web/login/totp), POST the current code (and follow to /web).
The server runs on real time and refuses a replayed code, so a user signs
in at most once per 30-second step: users are taken in turn, and a client
waits when every user has signed in during the current step ("starved").

Client addresses (``--ips``): ``same`` sends everything from 127.0.0.1,
like an office behind one NAT address; ``distinct`` starts the servers with
``--proxy-mode`` and gives each user an ``X-Forwarded-For`` address of its
own from 198.18.0.0/15 (the range RFC 2544 sets aside for benchmarks), like
users from many places behind a reverse proxy. The traffic itself stays on
the loopback interface either way.

Every ``--race-every``-th sign-in of a client is a race instead: two fresh
sessions of one user type the password, then send the same code at the
same moment; exactly one must be accepted. A second acceptance is counted
as a double acceptance (the number that must be zero).
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa

from auth_totp import totp
from bench.common import PASSWORD, BenchDatabase, default_pg, machine, serving

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
CLIENT_PROCESSES = 2
TIMEOUT = 120  # seconds for one HTTP request: queues get long at 600,000 rounds


class Refused(Exception):
    """A step of a sign-in did not end where it should; the message is the error's kind."""


@dataclass
class Job:
    url: str
    users: list[tuple[str, str, int]]  # login, secret (base32), last step used
    addresses: dict[str, str]  # login -> X-Forwarded-For, when clients have their own
    threads: int
    deadline: float
    cap: int
    race_every: int


@dataclass
class Outcome:
    total: list[float] = field(default_factory=list)
    password: list[float] = field(default_factory=list)
    code: list[float] = field(default_factory=list)
    accepted: int = 0
    races: int = 0
    replays_refused: int = 0
    double_acceptances: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    starved: float = 0.0
    finished: float = 0.0
    last_steps: dict[str, int] = field(default_factory=dict)


class UserPool:
    """Users in turn; one whose code of this step was used waits for the next step."""

    def __init__(self, users: list[tuple[str, str, int]]):
        # least recently used first; a user given back goes last, so the order holds
        self.queue = collections.deque(sorted(users, key=lambda user: user[2]))
        self.lock = threading.Lock()
        self.starved = 0.0

    def take(self, deadline: float) -> tuple[str, str, int] | None:
        with self.lock:
            while True:
                now = time.time()
                if now >= deadline:
                    return None
                if self.queue and self.queue[0][2] < totp.step_at(now):
                    return self.queue.popleft()
                # everyone signed in during this step: wait for the next one
                wait = min(totp.PERIOD - now % totp.PERIOD + 0.05, deadline - now)
                time.sleep(wait)
                self.starved += wait

    def give_back(self, login: str, secret: str, step: int) -> None:
        with self.lock:
            self.queue.append((login, secret, step))


def csrf_of(response: requests.Response) -> str:
    match = CSRF_RE.search(response.text)
    if match is None:
        raise Refused(f"no form on {response.url.split('?')[0]} ({response.status_code})")
    return match.group(1)


def password_step(url: str, login: str, address: str = "") -> tuple[requests.Session, str]:
    """A new browser types *login*'s password; returns it and the code page's CSRF token."""
    session = requests.Session()
    if address:
        session.headers["X-Forwarded-For"] = address
    page = session.get(url + "/web/login", timeout=TIMEOUT)
    page = session.post(url + "/web/login", data={
        "login": login, "password": PASSWORD, "csrf_token": csrf_of(page)}, timeout=TIMEOUT)
    if not page.url.startswith(url + "/web/login/totp"):
        raise Refused(f"password step: {page.status_code} {page.url.removeprefix(url)}")
    return session, csrf_of(page)


def code_step(url: str, session: requests.Session, token: str, code: str) -> bool:
    """Send *code*; True when signed in, False when refused as already used."""
    page = session.post(url + "/web/login/totp", data={"totp_token": code, "csrf_token": token},
                        timeout=TIMEOUT)
    if page.status_code == 200 and page.url == url + "/web":
        return True
    if page.status_code == 401 and "already used" in page.text:
        return False
    raise Refused(f"code step: {page.status_code} {page.url.removeprefix(url)}")


def sign_in(url: str, login: str, address: str, secret: bytes, outcome: Outcome,
            lock: threading.Lock) -> int:
    """One full sign-in, timed by phase; returns the step of the code used."""
    started = time.perf_counter()
    session, token = password_step(url, login, address)
    typed = time.perf_counter()
    step = totp.step_at(time.time())
    if not code_step(url, session, token, totp.code_at_step(secret, step)):
        raise Refused("code step: a fresh code refused as already used")
    done = time.perf_counter()
    with lock:
        outcome.accepted += 1
        outcome.total.append(done - started)
        outcome.password.append(typed - started)
        outcome.code.append(done - typed)
    return step


def race(url: str, login: str, address: str, secret: bytes, outcome: Outcome,
         lock: threading.Lock) -> int:
    """Two sessions of one user send the same code at once; exactly one may be accepted."""
    first, second = password_step(url, login, address), password_step(url, login, address)
    step = totp.step_at(time.time())
    code = totp.code_at_step(secret, step)
    barrier = threading.Barrier(2)
    results: dict[int, bool | Exception] = {}

    def send(index: int, browser: tuple[requests.Session, str]) -> None:
        barrier.wait(timeout=TIMEOUT)
        try:
            results[index] = code_step(url, browser[0], browser[1], code)
        except Exception as exc:  # reported below, in the caller's thread
            results[index] = exc

    helper = threading.Thread(target=send, args=(1, second))
    helper.start()
    send(0, first)
    helper.join()
    for result in results.values():
        if isinstance(result, Exception):
            raise result
    wins = sum(results.values())
    with lock:
        outcome.races += 1
        outcome.accepted += wins
        outcome.replays_refused += 2 - wins
        if wins > 1:
            outcome.double_acceptances += 1
    if wins == 0:
        raise Refused("race: the code was accepted by neither session")
    return step


def client_process(job: Job) -> Outcome:
    """*job.threads* clients signing in until the deadline or the cap."""
    outcome, lock = Outcome(), threading.Lock()
    pool = UserPool(job.users)
    done = [0]

    def client() -> None:
        count = 0
        while time.time() < job.deadline:
            with lock:
                if done[0] >= job.cap:
                    return
                done[0] += 1
            user = pool.take(job.deadline)
            if user is None:
                return
            login, secret_b32, last = user
            count += 1
            flow = race if job.race_every and count % job.race_every == 0 else sign_in
            try:
                last = flow(job.url, login, job.addresses.get(login, ""),
                            totp.from_base32(secret_b32), outcome, lock)
            except (Refused, requests.RequestException) as exc:
                kind = str(exc) if isinstance(exc, Refused) else exc.__class__.__name__
                with lock:
                    outcome.errors[kind] = outcome.errors.get(kind, 0) + 1
                last = totp.step_at(time.time())  # its code may have been used
            pool.give_back(login, secret_b32, last)

    threads = [threading.Thread(target=client) for _ in range(job.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.finished = time.time()
    outcome.starved = pool.starved
    outcome.last_steps = {login: step for login, _secret, step in pool.queue}
    return outcome


class LockSampler:
    """Samples, ten times a second, the bench database's busy transactions and lock waits.

    Tells a server busy computing from one queueing on a row lock.
    """

    def __init__(self, database: BenchDatabase):
        self.database = database
        self.busy = self.waiting = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        query = ("SELECT wait_event_type FROM pg_stat_activity "
                 "WHERE datname = :name AND state <> 'idle' AND pid <> pg_backend_pid()")
        with self.database.server.engine.connect() as conn:
            while not self._stop.wait(0.1):
                waits = conn.execute(sa.text(query), {"name": self.database.name}).scalars()
                waits = list(waits)
                conn.rollback()
                self.busy += len(waits)
                self.waiting += waits.count("Lock")

    @property
    def share(self) -> float:
        """Of the transactions seen running, the share waiting for a lock."""
        return self.waiting / self.busy if self.busy else 0.0


def benchmark_address(index: int) -> str:
    """The *index*-th address of 198.18.0.0/15, the range set aside for benchmarks."""
    return f"198.{18 + index // 65536}.{index // 256 % 256}.{index % 256}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_one(database: BenchDatabase, users: list, last_steps: dict[str, int], workers: int,
            args: argparse.Namespace) -> dict:
    """One worker count: start the server, let the clients run, measure."""
    distinct = args.ips == "distinct"
    with serving(database, workers, args.rounds, proxy_mode=distinct) as server:
        for _ in range(4 * workers):  # every worker loads its registry before the clock runs
            requests.get(server.url + "/web/login", timeout=TIMEOUT)
        events = "SELECT count(*) FROM auth_totp_event WHERE event = :e"
        share = [[] for _ in range(CLIENT_PROCESSES)]
        for index, user in enumerate(users):
            share[index % CLIENT_PROCESSES].append(
                (user.login, user.secret_b32, last_steps.get(user.login, 0)))
        addresses = {user.login: benchmark_address(index)
                     for index, user in enumerate(users)} if distinct else {}
        spawn = multiprocessing.get_context("spawn")  # never fork this threaded process
        with ProcessPoolExecutor(CLIENT_PROCESSES, mp_context=spawn) as pool:
            # every client process is up before the clock starts
            list(pool.map(time.sleep, [0.5] * CLIENT_PROCESSES))
            load = os.getloadavg()[0]  # other work on the machine, for the record
            successes_before = database.scalar(events, e="success")
            cpu_before = server.cpu_seconds()
            started = time.time()
            deadline = started + args.duration
            jobs = [Job(server.url, part, addresses, args.clients // CLIENT_PROCESSES,
                        deadline, args.max_signins // CLIENT_PROCESSES, args.race_every)
                    for part in share]
            with LockSampler(database) as locks:
                outcomes = list(pool.map(client_process, jobs))
        elapsed = max(o.finished for o in outcomes) - started
        server_cpu = server.cpu_seconds() - cpu_before
        successes = database.scalar(events, e="success") - successes_before
    merged = Outcome()
    for o in outcomes:
        for name in ("total", "password", "code"):
            getattr(merged, name).extend(getattr(o, name))
        for name in ("accepted", "races", "replays_refused", "double_acceptances"):
            setattr(merged, name, getattr(merged, name) + getattr(o, name))
        for kind, count in o.errors.items():
            merged.errors[kind] = merged.errors.get(kind, 0) + count
        merged.starved += o.starved
        last_steps.update(o.last_steps)
    ms = 1000
    return {
        "workers": workers, "rounds": args.rounds, "clients": args.clients, "ips": args.ips,
        "load_before": round(load, 2),
        "seconds": round(elapsed, 1),
        "sign_ins": merged.accepted,
        "sign_ins_per_s": round(merged.accepted / elapsed, 1),
        "p50_ms": round(percentile(merged.total, 50) * ms),
        "p99_ms": round(percentile(merged.total, 99) * ms),
        "password_p50_ms": round(percentile(merged.password, 50) * ms),
        "password_p99_ms": round(percentile(merged.password, 99) * ms),
        "code_p50_ms": round(percentile(merged.code, 50) * ms),
        "code_p99_ms": round(percentile(merged.code, 99) * ms),
        "server_cpu_ms_per_sign_in": round(server_cpu / max(merged.accepted, 1) * ms, 1),
        "races": merged.races, "replays_refused": merged.replays_refused,
        "double_acceptances": merged.double_acceptances,
        "errors": merged.errors,
        "server_recorded_successes": successes,
        "client_starved_s": round(merged.starved, 1),
        "lock_wait_share": round(locks.share, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=default_pg(), help="a PostgreSQL server on this machine")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=15, help="seconds per worker count")
    parser.add_argument("--max-signins", type=int, default=5000, help="cap per worker count")
    parser.add_argument("--users", type=int, default=2000, help="users with 2FA to create")
    parser.add_argument("--rounds", type=int, default=1000, help="pbkdf2 rounds of passwords")
    parser.add_argument("--ips", choices=["same", "distinct"], default="distinct",
                        help="clients from 127.0.0.1 alone, or each user from its own address "
                        "(X-Forwarded-For, servers in --proxy-mode)")
    parser.add_argument("--race-every", type=int, default=5,
                        help="every Nth sign-in of a client is a race of two sessions (0: none)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not 0 < args.duration <= 300 or not 0 < args.max_signins <= 100_000:
        parser.error("--duration is at most 300 s and --max-signins at most 100000")
    if args.clients < CLIENT_PROCESSES:
        parser.error(f"--clients is at least {CLIENT_PROCESSES}")
    if args.users > 2 * 65536:
        parser.error("--users is at most 131072 (one 198.18.0.0/15 address each)")
    where = machine()
    print(f"machine: {where}", flush=True)
    database = BenchDatabase(args.pg, args.rounds)
    try:
        started = time.perf_counter()
        users = database.create_users(args.users)
        hash_cost = database.set_passwords(args.rounds)
        print(f"{len(users)} users with 2FA created in {time.perf_counter() - started:.1f} s; "
              f"one password hash at {args.rounds} rounds: {hash_cost * 1000:.1f} ms",
              flush=True)
        results, last_steps = [], {}
        for workers in (int(w) for w in args.workers.split(",")):
            result = run_one(database, users, last_steps, workers, args)
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        database.drop()
    print()
    print("| workers | sign-ins/s | p50 ms | p99 ms | password p50/p99 ms | code p50/p99 ms "
          "| server CPU ms/sign-in | waiting on a lock | sign-ins | races | errors "
          "| double acceptances | load before |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['workers']} | {r['sign_ins_per_s']} | {r['p50_ms']} | {r['p99_ms']} "
              f"| {r['password_p50_ms']} / {r['password_p99_ms']} "
              f"| {r['code_p50_ms']} / {r['code_p99_ms']} | {r['server_cpu_ms_per_sign_in']} "
              f"| {r['lock_wait_share']:.0%} "
              f"| {r['sign_ins']} | {r['races']} | {sum(r['errors'].values())} "
              f"| {r['double_acceptances']} | {r['load_before']} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": where, "args": vars(args), "hash_ms": hash_cost * 1000,
                       "results": results}, out, indent=2)
    failed = any(r["errors"] or r["double_acceptances"] for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

