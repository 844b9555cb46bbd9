"""Load benchmark: ``execute_kw`` calls per second over XML-RPC, with an API key or a password.

Run from the repository's root::

    python -m bench.rpc_calls [--pg URL] [--rounds 600000] [--workers 2] [--duration 10]

A throwaway PostgreSQL database with auth_totp, one ``erpcore serve
--workers N`` on 127.0.0.1, and a user ``robot`` (no 2FA) with a password
hashed at ``--rounds`` and an API key. Clients are threads, each with its own
``xmlrpc.client.ServerProxy``, calling ``res.users.search_read`` of their
own record over and over for ``--duration`` seconds: 1, 4 and 8 clients with
the key, then with the password. Every call checks the secret again (the API
keeps no session): a key costs one HMAC, a password one pbkdf2 hash. Calls
refused (a throttle wait, say) are counted apart.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import xmlrpc.client

from bench.common import PRODUCTION_ROUNDS, BenchDatabase, default_pg, machine, serving

LOGIN = "robot"
PASSWORD = "robot-password-1"


def prepare(database: BenchDatabase, rounds: int) -> tuple[int, str]:
    with database.server.environment() as env:
        env.registry.settings.set(env.conn, "base.password_rounds", rounds)
    with database.server.environment() as env:
        user = env["res.users"].create({"login": LOGIN, "name": "Robot", "password": PASSWORD,
                                        "group_ids": [env.ref("base.group_user").id]})
        _record, key = env["res.users.apikeys"]._generate(user, "bench", days=1,
                                                           now=time.time())
        return user.id, key


def load(url: str, db: str, uid: int, secret: str, clients: int, duration: float) -> dict:
    latencies: list[float] = []
    refused: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client() -> None:
        proxy = xmlrpc.client.ServerProxy(url + "/xmlrpc/2/object")
        mine, errors = [], []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                rows = proxy.execute_kw(db, uid, secret, "res.users", "search_read",
                                        [[["login", "=", LOGIN]]], {"fields": ["login"]})
                assert rows[0]["login"] == LOGIN
                mine.append(time.perf_counter() - started)
            except xmlrpc.client.Fault as fault:
                errors.append(fault.faultString[:60])
        with lock:
            latencies.extend(mine)
            refused.extend(errors)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] \
        if latencies else 0
    return {"calls": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
            "p99_ms": p99 * 1000, "refused": len(refused),
            "why": sorted(set(refused))[:2]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=default_pg())
    parser.add_argument("--rounds", type=int, default=PRODUCTION_ROUNDS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--clients", default="1,4,8")
    args = parser.parse_args()
    print(machine())
    database = BenchDatabase(args.pg, args.rounds)
    try:
        uid, key = prepare(database, args.rounds)
        with serving(database, args.workers, args.rounds) as server:
            print(f"erpcore serve --workers {args.workers}, pbkdf2_sha512 at {args.rounds} "
                  f"rounds, {args.duration:.0f} s per row")
            print(f"{'secret':9} {'clients':>7} {'calls':>6} {'calls/s':>8} {'p50 ms':>8} "
                  f"{'p99 ms':>8} {'refused':>8}  server CPU s")
            for label, secret in (("API key", key), ("password", PASSWORD)):
                for clients in (int(n) for n in args.clients.split(",")):
                    cpu = server.cpu_seconds()
                    row = load(server.url, database.name, uid, secret, clients, args.duration)
                    used = server.cpu_seconds() - cpu
                    print(f"{label:9} {clients:>7} {row['calls']:>6} {row['per_second']:>8.1f} "
                          f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['refused']:>8}  "
                          f"{used:.1f}  {' | '.join(row['why'])}", flush=True)
                    time.sleep(1)
    finally:
        database.drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
