"""Test support: throwaway databases, a live server over real HTTP, an HTTP client.

Nothing here is a stand-in: databases are real SQLite files and real
PostgreSQL databases, the server is the real WSGI application behind
waitress, the HTTP server ``erpcore serve`` runs, on a loopback port, and the
client speaks HTTP.

Databases are cloned from a template made once per test session (a file copy
for SQLite, ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so each test
starts from a freshly initialised database in milliseconds.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
import waitress

from erpcore.config import Config
from erpcore.http.app import Application
from erpcore.keys import Keyring
from erpcore.modules.loading import create_database, install
from erpcore.server import Server
from erpcore.service import waitress_options

ADMIN_PASSWORD = "admin-password-1"
USER_PASSWORD = "user-password-1"
TEST_ROUNDS = 1000
PG_ENV = "ERPCORE_TEST_PG"
#: the routes of the external API (DESIGN section 4): no CSRF token, as scripts have no
#: form; each call names its user and secret, the session counts for nothing, and a
#: browser's form post is refused for its content type (XML-RPC: a fault; JSON: 415)
EXTERNAL_API = {"/xmlrpc/2/<service>", "/jsonrpc", "/web/webclient/version_info",
                "/web/session/authenticate"}


class Clock:
    """A controllable clock, injected into the server instead of sleeping."""

    def __init__(self, start: float | None = None):
        self.now = start if start is not None else time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def set(self, when: float) -> None:
        self.now = when


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _pg_admin_engine() -> sa.Engine:
    url = pg_base_url().replace("postgresql://", "postgresql+psycopg://", 1)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def pg_database_url(name: str) -> str:
    base = sa.engine.make_url(pg_base_url().replace("postgresql://", "postgresql+psycopg://", 1))
    return base.set(database=name).render_as_string(hide_password=False)


def pg_execute(statement: str) -> None:
    engine = _pg_admin_engine()
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


@dataclass
class Template:
    """An initialised database to clone: base, web, the admin, a user, and *addons*."""

    backend: str
    addons: tuple[str, ...]
    folder: Path
    keyring_text: str = ""
    pg_name: str = ""

    def build(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.config(self.folder)
        if self.backend == "postgresql":
            self.pg_name = f"erpcore_tmpl_{uuid.uuid4().hex[:10]}"
            pg_execute(f'CREATE DATABASE "{self.pg_name}"')
            config.db_url = pg_database_url(self.pg_name)
        server = Server(config)
        server.prepare_data_dir()
        create_database(server, ADMIN_PASSWORD, password_rounds=TEST_ROUNDS)
        with server.environment() as env:
            env["res.users"].create({
                "login": "demo", "name": "Marc Demo", "password": USER_PASSWORD,
                "email": "demo@example.com", "group_ids": [env.ref("base.group_user").id],
            })
        if self.addons:
            with server.transaction() as conn:
                install(server, conn, list(self.addons))
        server.engine.dispose()
        self.keyring_text = config.keyring_path.read_text()

    def config(self, data_dir: Path) -> Config:
        return Config(data_dir=data_dir)

    def clone(self, data_dir: Path) -> Config:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = self.config(data_dir)
        keyring = config.keyring_path
        keyring.write_text(self.keyring_text)
        keyring.chmod(0o600)
        if self.backend == "sqlite":
            shutil.copy(self.config(self.folder).sqlite_path, config.sqlite_path)
        else:
            name = f"erpcore_t_{uuid.uuid4().hex[:12]}"
            pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_name}"')
            config.db_url = pg_database_url(name)
        return config

    def drop(self) -> None:
        if self.pg_name:
            pg_execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def drop_clone(config: Config) -> None:
    if config.db_url.startswith("postgresql"):
        name = sa.engine.make_url(config.db_url).database
        pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LiveServer:
    """The real WSGI application served by waitress on a loopback port, in a thread."""

    def __init__(self, server: Server):
        self.server = server
        self.app = Application(server)
        self.httpd = waitress.create_server(self.app, host="127.0.0.1", port=0,
                                            **waitress_options(server.config))
        self.url = f"http://127.0.0.1:{self.httpd.effective_port}"
        self._stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.httpd.asyncore.loop(timeout=0.05, map=self.httpd._map, use_poll=True,
                                     count=1)

    def stop(self) -> None:
        self._stopped.set()
        self.thread.join(timeout=10)
        for channel in list(self.httpd._map.values()):
            channel.close()
        self.httpd.task_dispatcher.shutdown(timeout=5)
        self.server.dispose()


CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Client:
    """A browser-like HTTP client: keeps cookies, follows redirects, knows the CSRF token."""

    base: str
    headers: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    last: requests.Response | None = None

    def __post_init__(self) -> None:
        self.session.headers.update(self.headers)

    def get(self, path: str, **kw) -> requests.Response:
        self.last = self.session.get(self.base + path, timeout=30, **kw)
        return self.last

    def csrf(self, path: str | None = None) -> str:
        """The CSRF token of the last page, or of *path* fetched now."""
        page = self.get(path) if path else self.last
        match = CSRF_RE.search(page.text) if page is not None else None
        if match is None:
            raise AssertionError(f"no CSRF token on {page.url if page is not None else '?'}")
        return match.group(1)

    def post(self, path: str, data: dict | None = None, *, csrf: bool | str = True,
             from_page: str | None = None, **kw) -> requests.Response:
        data = dict(data or {})
        if csrf is True:
            data["csrf_token"] = self.csrf(from_page)
        elif isinstance(csrf, str):
            data["csrf_token"] = csrf
        self.last = self.session.post(self.base + path, data=data, timeout=30, **kw)
        return self.last

    def login(self, login: str, password: str) -> requests.Response:
        return self.post("/web/login", {"login": login, "password": password},
                         from_page="/web/login")

    def path(self) -> str:
        return self.last.url.removeprefix(self.base) if self.last is not None else ""

    def cookie(self, name: str) -> str | None:
        return self.session.cookies.get(name)


def count_rows(server: Server, table: str, where: str = "") -> int:
    with server.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar_one()


def table_dump(server: Server, tables: Iterable[str] | None = None) -> dict[str, list]:
    """Every row of every table (or of *tables*), to compare states before and after."""
    with server.engine.connect() as conn:
        names = tables or sorted(sa.inspect(conn).get_table_names())
        dump = {}
        for name in names:
            rows = conn.exec_driver_sql(f'SELECT * FROM "{name}"').all()
            dump[name] = sorted(tuple(map(repr, row)) for row in rows)
        return dump


__all__ = ["ADMIN_PASSWORD", "Clock", "Client", "Keyring", "LiveServer", "Template",
           "USER_PASSWORD"]
