"""Real ``erpcore serve`` processes and a throwaway PostgreSQL cluster, for the worker tests.

Everything listens on 127.0.0.1 only. Each server runs in its own process
group, so stopping it also stops its gunicorn workers; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The direct children of *pid* (gunicorn's workers, for its master)."""
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue  # the process ended meanwhile
        # the command name is in parentheses and may hold spaces: split after it
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            children.append(int(stat.split("/")[2]))
    return children


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process: no ERPCORE_* setting of the test run's,
    only *extra*.

    (Password hashes are cheap because the databases say so: ``base.password_rounds``.)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
    env.update(extra)
    return env


def run_erpcore(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m erpcore ARGS`` to its end, output captured."""
    return subprocess.run([sys.executable, "-m", "erpcore", *args], capture_output=True,
                          text=True, cwd=ROOT, env=server_env(), timeout=timeout, check=False)


class ServerProcess:
    """``erpcore serve --workers N`` in its own process group, until :meth:`stop`."""

    def __init__(self, data_dir: Path, db_url: str = "", workers: int = 2,
                 extra: list[str] = (), extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "erpcore", "serve", "--workers", str(workers),
                   "--data-dir", str(data_dir), "--http-port", str(self.port)]
        if db_url:
            command += ["--db", db_url]
        command += list(extra)
        self._interrupted = False
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=server_env(**extra_env or {}),
                                            stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 40) -> ServerProcess:
        """Wait until the sign-in page answers (every worker boots in parallel)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"erpcore serve exited:\n{self.output()}")
            try:
                if requests.get(self.url + "/web/login", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"erpcore serve not ready after {timeout} s:\n{self.output()}")

    def workers(self) -> list[int]:
        return child_pids(self.process.pid)

    def wait_workers(self, count: int, exclude: list[int] = (), timeout: float = 30
                     ) -> list[int]:
        """The worker pids, once *count* of them run (gunicorn replaces killed ones)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in self.workers() if pid not in exclude]
            if len(pids) >= count:
                return pids
            time.sleep(0.1)
        raise AssertionError(f"fewer than {count} workers after {timeout} s:\n{self.output()}")

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker, as the kernel's OOM killer or a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def interrupt(self) -> None:
        """Ask the master and its workers to stop now (gunicorn's quick shutdown), once."""
        if self.process.poll() is None and not self._interrupted:
            self._interrupted = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)

    def stop(self) -> None:
        """Stop the master and its workers: quickly (SIGINT), then by force."""
        self.interrupt()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):  # workers left by a killed master
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def postgres_bin() -> str | None:
    """A folder holding initdb and pg_ctl: $ERPCORE_TEST_PG_BIN, else the newest installed."""
    candidates = [os.environ.get("ERPCORE_TEST_PG_BIN", "")]
    installed = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(installed, key=lambda p: [int(n) for n in p.split("/")[-2].split(".")
                                                   if n.isdigit()], reverse=True)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(str(Path(pg_ctl).parent))
    for folder in candidates:
        if folder and all(os.access(Path(folder, tool), os.X_OK)
                          for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


class PostgresCluster:
    """A PostgreSQL server of our own, in a temporary folder, on a free loopback port.

    Tests stop and start it at will without disturbing the one other tests use.
    When run as root, the server runs as the ``postgres`` user (it refuses root).
    """

    def __init__(self, bin_dir: str):
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="erpcore-workers-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.folder, "postgres")
        self._run(f"'{bin_dir}/initdb' -D '{self.data}' -A trust -U postgres")

    def _run(self, command: str, timeout: float = 60) -> None:
        argv = (["su", "postgres", "-s", "/bin/bash", "-c", command] if self.as_root
                else ["bash", "-c", command])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                check=False, cwd=self.folder)
        if result.returncode != 0:
            raise AssertionError(f"{command}: {result.stdout}{result.stderr}")

    def start(self) -> None:
        options = (f"-k '{self.folder}' -p {self.port} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=100")
        self._run(f"'{self.bin_dir}/pg_ctl' -D '{self.data}' -l '{self.folder}/log' -w "
                  f"-t 30 start -o \"{options}\"")

    def stop(self, mode: str = "fast") -> None:
        self._run(f"'{self.bin_dir}/pg_ctl' -D '{self.data}' -m {mode} -w -t 30 stop")

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"
