"""What the benchmarks share: a throwaway database, 2FA users, ``erpcore serve`` processes.

Loopback only: the database URL must name this machine, and the servers
listen on 127.0.0.1. Everything made here is removed on exit (the database
is dropped, the server process groups are stopped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

from auth_totp import totp
from erpcore.addons.base.models.res_users import crypt_context
from erpcore.addons.base.settings import PASSWORD_ROUNDS
from erpcore.config import Config
from erpcore.modules.loading import create_database, install
from erpcore.server import Server

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:55432/postgres"
LOOPBACK = {"127.0.0.1", "localhost", "::1", None, ""}
PASSWORD = "bench-password-1"
ADMIN_PASSWORD = "bench-admin-password-1"
PRODUCTION_ROUNDS = PASSWORD_ROUNDS.default


def default_pg() -> str:
    return os.environ.get("ERPCORE_BENCH_PG") or os.environ.get("ERPCORE_TEST_PG") or DEFAULT_PG


def _engine(url: str, **kw) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), **kw)


def admin_statement(url: str, statement: str) -> None:
    """Run *statement* outside any transaction (``CREATE DATABASE``, say) on the
    PostgreSQL server of *url*."""
    engine = _engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


@dataclass
class BenchUser:
    login: str
    secret_b32: str


class BenchDatabase:
    """A new PostgreSQL database on the server of *pg_url*, with auth_totp installed."""

    def __init__(self, pg_url: str, rounds: int):
        base = sa.engine.make_url(pg_url)
        if base.host not in LOOPBACK:
            raise SystemExit(f"bench: the database must be on this machine, not {base.host}")
        self.name = f"erpcore_bench_{uuid.uuid4().hex[:10]}"
        self.pg_url = pg_url
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self.folder = Path(tempfile.mkdtemp(prefix="erpcore-bench-"))
        self.config = Config(data_dir=self.folder / "data", db_url=self.url)
        self._admin(f'CREATE DATABASE "{self.name}"')
        self.server = Server(self.config)
        self.server.prepare_data_dir()
        create_database(self.server, ADMIN_PASSWORD, password_rounds=rounds)
        with self.server.transaction() as conn:
            install(self.server, conn, ["auth_totp"])

    def _admin(self, statement: str) -> None:
        admin_statement(self.pg_url, statement)

    def create_users(self, count: int, prefix: str = "bench") -> list[BenchUser]:
        """*count* users with 2FA on, none of whose codes was used yet (last step 0)."""
        users = []
        enabled = dt.datetime.now(dt.UTC)
        with self.server.environment() as env:
            group = env.ref("base.group_user").id
            for index in range(count):
                login = f"{prefix}{index:05d}"
                secret = totp.to_base32(totp.generate_secret())
                env["res.users"].create({"login": login, "name": login, "group_ids": [group],
                                         "totp_secret": secret, "totp_enabled_at": enabled})
                users.append(BenchUser(login, secret))
        return users

    def set_passwords(self, rounds: int) -> float:
        """Give every user but the admin PASSWORD hashed with *rounds*, the rounds the
        servers use from now on; returns one hash's cost.

        One hash is computed and stored for all: at 600,000 rounds hashing
        thousands of passwords one by one would take an hour.
        """
        started = time.perf_counter()
        hashed = crypt_context(rounds).hash(PASSWORD)
        cost = time.perf_counter() - started
        with self.server.environment() as env:
            env.registry.settings.set(env.conn, "base.password_rounds", rounds)
        with self.server.transaction() as conn:
            conn.execute(sa.text("UPDATE res_users SET password = :h WHERE login <> 'admin'"),
                         {"h": hashed})
        return cost

    def scalar(self, query: str, **params) -> int:
        with self.server.engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar_one()

    def drop(self) -> None:
        self.server.dispose()
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``erpcore serve --workers N`` on a free loopback port, in its own process group."""

    def __init__(self, database: BenchDatabase, workers: int, rounds: int,
                 proxy_mode: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
        self.log = open(database.folder / f"serve-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "erpcore", "serve", "--workers", str(workers),
             "--http-interface", "127.0.0.1", "--http-port", str(self.port),
             "--data-dir", str(database.config.data_dir), "--db", database.url,
             "--log-level", "warning", *(["--proxy-mode"] if proxy_mode else [])],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: erpcore serve exited with {self.process.returncode}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.url + "/web/login", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise SystemExit("bench: erpcore serve did not start within 60 s")

    def pids(self) -> list[int]:
        """The master and its workers."""
        found = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    found.append(int(stat.parent.name))
        return found

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its live workers."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()


@contextlib.contextmanager
def serving(database: BenchDatabase, workers: int, rounds: int,
            proxy_mode: bool = False) -> Iterator[ServerProcess]:
    server = ServerProcess(database, workers, rounds, proxy_mode)
    try:
        yield server
    finally:
        server.stop()


def machine() -> str:
    """One line describing this machine, for the record."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}, "
            f"load average before the run {load}")
