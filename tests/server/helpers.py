"""Helpers of the server tests: the test addons, and running the ``erpcore`` command."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
#: the folder of the test addons, given to servers as their addons path
TEST_ADDONS = ROOT / "tests" / "addons"


def install(erp, *names: str) -> list[str]:
    """Install *names* in the database of *erp*, as ``erpcore module install`` does."""
    from erpcore.modules.loading import install as install_addons

    with erp.server.transaction() as conn:
        return install_addons(erp.server, conn, list(names))


def uninstall(erp, name: str) -> list[str]:
    from erpcore.modules.loading import uninstall as uninstall_addon

    with erp.server.transaction() as conn:
        return uninstall_addon(erp.server, conn, name)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of an ``erpcore`` subprocess: no inherited settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
    env.update(extra)
    return env


def erpcore_command(args: tuple, data_dir: Path | None, db_url: str,
                    addons: bool) -> list[str]:
    """``python -m erpcore [global options] ARGS`` as an argument list."""
    command = [sys.executable, "-m", "erpcore"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if db_url:
        command += ["--db", db_url]
    if addons:
        command += ["--addons-path", str(TEST_ADDONS)]
    return command + [str(a) for a in args]


def run_cli(*args: str | Path, data_dir: Path | None = None, db_url: str = "",
            addons: bool = True, env: dict | None = None,
            timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m erpcore [global options] ARGS`` and capture its output."""
    command = erpcore_command(args, data_dir, db_url, addons)
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env=env or cli_env(), timeout=timeout, check=False, **kw)


def run_many(calls: list[tuple[tuple, dict]]) -> list[subprocess.CompletedProcess]:
    """:func:`run_cli` for each (args, keywords), two at a time: each takes a second to start."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: run_cli(*call[0], **call[1]), calls))


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """Assert *result* failed with one line on stderr and no traceback; return the line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(r"erpcore( [a-z0-9-]+)*: error: ", lines[0]), lines[0]
    return lines[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Serving:
    """``erpcore ... serve`` in a subprocess, until :meth:`stop`; output goes to files."""

    def __init__(self, *args: str | Path, folder: Path, env: dict | None = None,
                 data_dir: Path | None = None, db_url: str = "", addons: bool = True):
        folder.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = folder / "serve.out", folder / "serve.err"
        command = erpcore_command(args, data_dir, db_url, addons)
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT,
                                            env=env or cli_env())
        self.url = ""

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_ready(self, timeout: float = 60) -> str:
        """Wait for the line announcing the URL, and for that URL to answer; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"erpcore is running on (http://\S+)", self.stdout)
            if match:
                try:
                    requests.get(match.group(1) + "/web/login", timeout=5)
                except requests.ConnectionError:
                    pass
                else:
                    self.url = match.group(1)
                    return self.url
            if self.process.poll() is not None:
                raise AssertionError(f"erpcore serve exited: {self.stderr}")
            time.sleep(0.1)
        raise AssertionError(f"erpcore serve did not start: {self.stderr}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Serving:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
