"""The ``erpcore`` command: first start, module commands with the server stopped and
running, addon subcommands, and errors that are one line."""

from __future__ import annotations

import errno
import re
import socket
import sqlite3
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from erpcore.config import Config
from erpcore.server import Server
from tests.conftest import require_postgres
from tests.server.helpers import (
    ROOT,
    Serving,
    cli_env,
    free_port,
    one_line_error,
    run_cli,
    run_many,
)
from tests.support import Client, pg_database_url, pg_execute

ADMIN = "admin-cli-password"


def readme_command(index: int) -> str:
    """The command the README gives on line *index*, without its ``pip install`` part."""
    line = (ROOT / "README.md").read_text().splitlines()[index].strip()
    return line.split("&&")[-1].strip()


def installed(data_dir) -> dict[str, str]:
    with sqlite3.connect(data_dir / "erpcore.sqlite3") as conn:
        return dict(conn.execute("SELECT name, state FROM ir_module_module").fetchall())


def test_first_start_creates_everything_once_then_reuses_it(tmp_path):
    """The README's first command, from an empty home: SQLite in the default data dir."""
    assert readme_command(0) == "erpcore serve"
    env = cli_env(HOME=str(tmp_path / "home"))
    data_dir = tmp_path / "home" / ".local" / "share" / "erpcore"
    port = free_port()
    with Serving("serve", "--http-port", port, folder=tmp_path / "1", env=env,
                 addons=False) as first:
        url = first.wait_ready()
        assert url == f"http://127.0.0.1:{port}"
        password = re.search(r"password:\n\s+(\S+)\n", first.stdout).group(1)
        assert first.stdout.count(password) == 1 and password not in first.stderr
        assert Client(url).login("admin", password).url == url + "/web"
    keyring = data_dir / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert installed(data_dir) == {"base": "installed", "web": "installed"}
    keys = keyring.read_text()

    with Serving("serve", "--http-port", port, folder=tmp_path / "2", env=env,
                 addons=False) as second:
        second.wait_ready()
        assert "password" not in second.stdout.lower()
        assert Client(url).login("admin", password).url == url + "/web"
    assert keyring.read_text() == keys
    with sqlite3.connect(data_dir / "erpcore.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM res_users").fetchone() == (1,)


def test_default_address_is_127_0_0_1_port_8069_and_a_busy_port_creates_nothing(tmp_path):
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8069))
        holder.listen()
    except OSError as exc:  # already held by another program: the same error follows
        assert exc.errno == errno.EADDRINUSE
    try:
        result = run_cli("serve", data_dir=tmp_path / "data", addons=False)
    finally:
        holder.close()
    assert one_line_error(result) == "erpcore: error: port 8069 on 127.0.0.1 is already in use"
    assert not (tmp_path / "data").exists()


def test_module_commands_with_the_server_stopped_then_running(tmp_path):
    data = tmp_path / "data"
    assert run_cli("init", "--admin-password", ADMIN, data_dir=data).returncode == 0
    # stopped: install, and the addon's own subcommand appears
    assert "feature-notes" in one_line_error(run_cli("feature-notes", data_dir=data))
    result = run_cli("module", "install", "test_feature", data_dir=data)
    assert result.stdout.strip() == "installed: test_feature", result.stderr
    assert run_cli("feature-notes", "--prefix", "n", data_dir=data).stdout == "n: 1\n"
    listing = run_cli("module", "list", data_dir=data).stdout
    assert re.search(r"^test_feature\s+installed\s+Test Feature$", listing, re.M)
    assert re.search(r"^test_mfa\s+uninstalled\s", listing, re.M)

    with Serving("serve", "--http-port", free_port(), data_dir=data,
                 folder=tmp_path / "s") as serving:
        url = serving.wait_ready()
        admin = Client(url)
        admin.login("admin", ADMIN)
        assert admin.get("/test_feature/hello").status_code == 200
        # running: the server serves each change at its next request, no restart
        assert run_cli("module", "uninstall", "test_feature", data_dir=data).returncode == 0
        assert admin.get("/test_feature/hello").status_code == 404
        assert run_cli("module", "install", "test_mfa", data_dir=data).returncode == 0
        assert admin.get("/test_mfa/sensitive").status_code == 200
        assert installed(data)["test_mfa"] == "installed"
        assert serving.process.poll() is None
    assert "unknown addon 'nope'" in one_line_error(
        run_cli("module", "install", "nope", data_dir=data))
    assert "not installed" in one_line_error(
        run_cli("module", "uninstall", "test_feature", data_dir=data))


@pytest.mark.postgres
def test_every_worker_serves_an_install_without_restart(tmp_path):
    require_postgres()
    name = f"erpcore_cli_{uuid.uuid4().hex[:12]}"
    pg_execute(f'CREATE DATABASE "{name}"')
    db_url = pg_database_url(name)
    data = tmp_path / "data"
    try:
        assert run_cli("init", "--admin-password", ADMIN, data_dir=data,
                       db_url=db_url).returncode == 0
        with Serving("serve", "--workers", "2", "--http-port", free_port(), data_dir=data,
                     db_url=db_url, folder=tmp_path / "s") as serving:
            url = serving.wait_ready()
            admin = Client(url)
            admin.login("admin", ADMIN)
            cookies = admin.session.cookies

            def statuses() -> set[int]:
                # a new connection each time, so that both workers answer some
                return {requests.get(url + "/test_feature/hello", cookies=cookies,
                                     timeout=10).status_code for _ in range(16)}

            assert statuses() == {404}
            assert run_cli("module", "install", "test_feature", data_dir=data,
                           db_url=db_url).returncode == 0
            assert statuses() == {200}
            assert run_cli("module", "uninstall", "test_feature", data_dir=data,
                           db_url=db_url).returncode == 0
            assert statuses() == {404}
    finally:
        pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_errors_are_one_line_without_traceback(tmp_path):
    data = tmp_path / "data"
    assert run_cli("init", "--admin-password", ADMIN, data_dir=data).returncode == 0
    (tmp_path / "a-file").write_text("")
    (tmp_path / "ghost" / "needs_ghost").mkdir(parents=True)
    (tmp_path / "ghost" / "needs_ghost" / "__manifest__.py").write_text(
        '{"name": "G", "depends": ["web", "ghost"]}')
    (tmp_path / "ghost" / "needs_lib").mkdir()
    (tmp_path / "ghost" / "needs_lib" / "__manifest__.py").write_text(
        '{"name": "L", "external_dependencies": {"python": ["no_such_module_erpcore"]}}')
    (tmp_path / "ghost" / "broken_code").mkdir()
    (tmp_path / "ghost" / "broken_code" / "__manifest__.py").write_text('{"name": "B"}')
    (tmp_path / "ghost" / "broken_code" / "__init__.py").write_text("import no_such_module_x\n")
    ghost = {"data_dir": data, "addons": False}
    ghost_path = ("--addons-path", tmp_path / "ghost")
    cases = {
        "unknown addon 'nope'": (("module", "install", "nope"), {"data_dir": data}),
        "bad database URL": (("module", "list"), {"data_dir": data, "db_url": "nosuch://x"}),
        "database: connection": (("module", "list"), {
            "data_dir": data, "db_url": "postgresql://nobody@127.0.0.1:1/x"}),
        "is not writable: Not a directory": (("serve",), {"data_dir": tmp_path / "a-file" / "d"}),
        "'needs_ghost' depends on 'ghost', which is not found": (
            (*ghost_path, "module", "install", "needs_ghost"), ghost),
        "needs the Python module 'no_such_module_erpcore'": (
            (*ghost_path, "module", "install", "needs_lib"), ghost),
        "addon 'broken_code' cannot be imported: ModuleNotFoundError": (
            (*ghost_path, "module", "install", "broken_code"), ghost),
        "the database is not initialised": (("module", "list"), {"data_dir": tmp_path / "new"}),
        "invalid choice: 'nosuch'": (("nosuch",), {"data_dir": data}),
        "the following arguments are required: name": (("module", "install"),
                                                       {"data_dir": data}),
        "invalid int value: 'abc'": (("serve", "--http-port", "abc"), {"data_dir": data}),
    }
    results = run_many(list(cases.values()))
    for expected, result in zip(cases, results, strict=True):
        assert expected in one_line_error(result)


def test_keyring_readable_by_others_stops_the_server(tmp_path):
    data = tmp_path / "data"
    assert run_cli("init", "--admin-password", ADMIN, data_dir=data).returncode == 0
    keyring = data / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    keyring.chmod(0o644)
    line = one_line_error(run_cli("serve", "--http-port", free_port(), data_dir=data))
    assert line == (f"erpcore: error: keyring {keyring} is readable by other users "
                    f"(mode 644); run: chmod 600 {keyring}")
    assert ADMIN not in line


def test_commands_starting_together_on_one_data_directory_both_find_it_writable(tmp_path):
    """The writability probe of one command must not be another's: each has its own
    (found when ``erpcore mail retry`` ran twice at once and one of them failed)."""
    config = Config(data_dir=tmp_path / "data")

    def prepare(_index: int) -> None:
        Server(config).prepare_data_dir()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(prepare, range(400)))
    assert sorted(p.name for p in config.data_dir.iterdir()) == []
