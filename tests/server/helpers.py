"""Helpers of the server tests: the test addons, and running the ``erpcore`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import TEST_ROUNDS

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
    """The environment of an ``erpcore`` subprocess: fast hashes, no inherited settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
    env["ERPCORE_PASSWORD_ROUNDS"] = str(TEST_ROUNDS)
    env.update(extra)
    return env


def run_cli(*args: str | Path, data_dir: Path | None = None, db_url: str = "",
            addons: bool = True, env: dict | None = None,
            timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m erpcore [global options] ARGS`` and capture its output."""
    command = [sys.executable, "-m", "erpcore"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if db_url:
        command += ["--db", db_url]
    if addons:
        command += ["--addons-path", str(TEST_ADDONS)]
    command += [str(a) for a in args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env=env or cli_env(), timeout=timeout, check=False, **kw)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """Assert *result* failed with one line on stderr and no traceback; return the line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("erpcore: error: "), lines[0]
    return lines[0]
