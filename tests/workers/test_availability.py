"""Availability against real ``erpcore serve`` processes and real sockets (issue 9).

Clients that stall (in their headers, in their body, or dripping one byte at
a time) take nobody's access away, with one process or several, on SQLite and
PostgreSQL; silent connections are closed. The server's files are private
whatever the folder's mode; a keyring is never made anew for an existing
database; the Server header names no version.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from erpcore.keys import Keyring
from tests.server.helpers import one_line_error, run_cli
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, Client
from tests.workers.processes import ServerProcess, run_erpcore

STALLED = 50
#: a stalled server answers nothing for 30 s; an answer within this is "not frozen"
ANSWER_WITHIN = 10


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def stall(url: str, kind: str) -> socket.socket:
    """A connection that starts a request and never finishes it."""
    sock = connect(url)
    if kind == "headers":
        sock.sendall(b"GET /web/login HTTP/1.1\r\nHost: x\r\nUser-Agent: stalled\r\n")
    else:  # a body announced, one byte of it sent
        sock.sendall(b"POST /web/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100\r\n\r\nl")
    return sock


class Dripper(threading.Thread):
    """Sends one more byte of a never-ending body on each socket, every *every* seconds."""

    def __init__(self, socks: list[socket.socket], every: float):
        super().__init__(daemon=True)
        self.socks, self.every = socks, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            for sock in self.socks:
                with contextlib.suppress(OSError):
                    sock.sendall(b"x")


def assert_serves_everyone(url: str) -> None:
    """Other clients are served at once: pages, and a whole sign-in."""
    for _ in range(3):
        page = requests.get(url + "/web/login", timeout=ANSWER_WITHIN)
        assert page.status_code == 200
    client = Client(url)
    client.session.request = _with_timeout(client.session.request)
    assert client.login("demo", USER_PASSWORD).url.endswith("/web")


def _with_timeout(request):
    def bounded(*args, **kw):
        kw["timeout"] = ANSWER_WITHIN
        return request(*args, **kw)
    return bounded


@pytest.mark.parametrize("workers", [0, 2])
def test_stalled_clients_take_nobodys_access_away(deploy, backend, workers):
    deployment = deploy(backend)
    server = deployment.start(workers=workers)
    socks = [stall(server.url, "headers") for _ in range(STALLED // 2)]
    socks += [stall(server.url, "body") for _ in range(STALLED // 2)]
    dripping = [stall(server.url, "body") for _ in range(10)]
    dripper = Dripper(dripping, every=1.0)
    dripper.start()
    try:
        time.sleep(0.5)  # every stalled request has reached the server
        assert_serves_everyone(server.url)
        time.sleep(2.5)  # the dripping bodies keep arriving meanwhile
        assert_serves_everyone(server.url)
    finally:
        dripper.stopped.set()
        for sock in socks + dripping:
            sock.close()
    assert "Traceback" not in server.output()


def test_silent_connections_are_closed(deploy):
    deployment = deploy("sqlite")
    server = ServerProcess(deployment.config.data_dir, workers=0,
                           extra=["--http-timeout", "2"]).wait_ready()
    deployment.processes.append(server)
    socks = [stall(server.url, "headers"), stall(server.url, "body")]
    try:
        for sock in socks:  # closed by the server: recv sees the end of the stream
            sock.settimeout(20)
            assert sock.recv(1024) == b""
    finally:
        for sock in socks:
            sock.close()


def test_the_server_header_names_no_version(deploy):
    server = deploy("sqlite").start(workers=0)
    header = requests.get(server.url + "/web/login", timeout=10).headers["Server"]
    assert header == "erpcore"


# -- the server's files -----------------------------------------------------------------


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_start_of_a_new_data_directory_makes_private_files(tmp_path):
    """``erpcore serve`` on a data directory that does not exist yet: the folder is made
    (0700), then the database, its log and its shared memory, all 0600."""
    (tmp_path / "share").mkdir(mode=0o755)
    data = tmp_path / "share" / "erpcore"
    server = ServerProcess(data, workers=0).wait_ready()
    try:
        files = {p.name: mode(p) for p in data.glob("erpcore.sqlite3*")}
        assert {"erpcore.sqlite3", "erpcore.sqlite3-wal", "erpcore.sqlite3-shm"} <= set(files)
        assert set(files.values()) == {0o600}, files
        assert mode(data) == 0o700 and mode(data / "keyring.json") == 0o600
    finally:
        server.stop()


def test_database_files_are_private_whatever_the_folders_mode(tmp_path):
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    old_umask = os.umask(0o022)
    try:
        created = run_erpcore("--data-dir", str(data), "init", "--admin-password",
                              ADMIN_PASSWORD, "--password-rounds", "1000")
    finally:
        os.umask(old_umask)
    assert created.returncode == 0, created.stderr
    server = ServerProcess(data, workers=0).wait_ready()
    try:  # a running server has its write-ahead log and its shared memory open
        Client(server.url).login("admin", ADMIN_PASSWORD)
        files = {p.name: mode(p) for p in data.glob("erpcore.sqlite3*")}
        assert {"erpcore.sqlite3", "erpcore.sqlite3-wal", "erpcore.sqlite3-shm"} <= set(files)
        assert set(files.values()) == {0o600}, files
        assert mode(data / "keyring.json") == 0o600
    finally:
        server.stop()
    for path in data.glob("erpcore.sqlite3*"):  # made readable by hand: put right at start
        path.chmod(0o644)
    server = ServerProcess(data, workers=0).wait_ready()
    try:
        assert {mode(p) for p in data.glob("erpcore.sqlite3*")} == {0o600}
    finally:
        server.stop()


# -- the keyring -------------------------------------------------------------------------


def test_a_keyring_is_never_made_anew_for_an_existing_database(deploy, backend):
    deployment = deploy(backend)
    config = deployment.config
    keyring_path = config.keyring_path
    original = keyring_path.read_text()
    recorded = json.loads(_parameter(deployment, "database.keys"))
    keyring = Keyring.parse(original)
    assert recorded == keyring.fingerprints()
    assert all(len(kid) == 8 for kid in keyring.keys)  # random ids, not k1, k2...
    for key in keyring.keys.values():  # fingerprints, never the keys
        assert key.hex() not in json.dumps(recorded)

    keyring_path.unlink()
    for command in (("serve", "--http-port", "0"), ("2fa", "status"), ("user", "list")):
        if command[0] == "2fa":
            continue  # auth_totp is not installed here: its command does not exist
        line = one_line_error(run_cli(*command, data_dir=config.data_dir,
                                      db_url=config.db_url, addons=False))
        assert f"keyring {keyring_path} is missing, but the database exists" in line
        assert not keyring_path.exists()

    other = Keyring.generate(keyring_path)
    other.save()
    line = one_line_error(run_cli("user", "list", data_dir=config.data_dir,
                                  db_url=config.db_url, addons=False))
    assert "does not hold the keys this database was sealed with" in line
    assert list(recorded)[0] in line
    assert keyring_path.read_text() == other.path.read_text()  # left as it was

    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPCORE_")}
    keyring_path.unlink()
    refused = run_cli("user", "list", data_dir=config.data_dir, db_url=config.db_url,
                      addons=False, env={**env, "ERPCORE_SECRET_KEYS": json.dumps(
                          {"primary": "abcdef01", "keys": {
                              "abcdef01": "A" * 43 + "="}})})
    assert "does not hold the keys" in one_line_error(refused)

    keyring_path.write_text(original)
    keyring_path.chmod(0o600)
    assert run_cli("user", "list", data_dir=config.data_dir, db_url=config.db_url,
                   addons=False).returncode == 0


def test_the_2fa_command_does_not_make_a_keyring_either(deploy):
    deployment = deploy("sqlite", ("auth_totp",))
    config = deployment.config
    config.keyring_path.unlink()
    line = one_line_error(run_cli("2fa", "status", data_dir=config.data_dir, addons=False))
    assert "is missing, but the database exists" in line
    assert not config.keyring_path.exists()


def _parameter(deployment, key: str) -> str:
    import sqlalchemy as sa

    with deployment.server.engine.connect() as conn:
        return conn.execute(sa.text("SELECT value FROM ir_config_parameter WHERE key = :k"),
                            {"k": key}).scalar_one()
