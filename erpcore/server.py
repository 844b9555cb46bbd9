"""The server object: configuration, database engine, keyring, current registry.

One :class:`Server` lives in each process. Its registry follows the database:
at each transaction the registry sequence is read, and a changed number
(another process installed or removed an addon) rebuilds the registry.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from erpcore import db
from erpcore.config import Config
from erpcore.keys import Keyring
from erpcore.modules.addons import Addon, discover
from erpcore.orm.environment import Environment
from erpcore.orm.registry import Registry

_logger = logging.getLogger(__name__)


class ServerError(Exception):
    """The server cannot start or act; the message is one line."""


class Server:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time):
        self.config = config
        #: the time source; tests inject a controllable one
        self.clock = clock
        self._engine: Engine | None = None
        self._keyring: Keyring | None = None
        self._registry: Registry | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """Created on first use, so that a forked worker makes its own pool."""
        if self._engine is None:
            self._engine = db.create_engine(self.config.database_url)
        return self._engine

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = Keyring.load_or_create(self.config.keyring_path)
        return self._keyring

    def prepare_data_dir(self) -> None:
        """Create the data directory (private to this user) and load the keyring."""
        try:
            self.config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            probe = self.config.data_dir / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ServerError(
                f"data directory {self.config.data_dir} is not writable: {exc.strerror}"
            ) from exc
        _ = self.keyring

    def dispose(self) -> None:
        """Forget the connection pool (after a fork, or at shutdown)."""
        if self._engine is not None:
            self._engine.dispose(close=False)
            self._engine = None

    def discover(self) -> dict[str, Addon]:
        return discover(self.config.addons_path)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with db.transaction(self.engine) as conn:
            yield conn

    def build_registry(self, conn: Connection, addons: list[Addon],
                       sequence: int = 0) -> Registry:
        database_uuid = db.get_parameter(conn, "database.uuid", "")
        return Registry(addons, self.config, self.keyring, database_uuid or "", sequence)

    def registry(self, conn: Connection) -> Registry:
        """The registry matching the database's addons, rebuilt when they changed."""
        from erpcore.modules.loading import installed_names

        sequence = db.registry_sequence(conn)
        current = self._registry
        if current is not None and current.sequence == sequence:
            return current
        with self._lock:
            if self._registry is None or self._registry.sequence != sequence:
                available = self.discover()
                names = installed_names(conn, available)
                self._registry = self.build_registry(
                    conn, [available[n] for n in names], sequence)
                _logger.info("registry loaded (sequence %d): %s", sequence, ", ".join(names))
            return self._registry

    @contextmanager
    def environment(self, uid: int | None = None, su: bool = True,
                    context: dict | None = None) -> Iterator[Environment]:
        """An environment in a fresh transaction, for commands and tests."""
        with self.transaction() as conn:
            yield Environment(self.registry(conn), conn, uid, su, context)

    # -- first start -----------------------------------------------------------

    def is_initialised(self) -> bool:
        with self.engine.connect() as conn:
            return db.is_initialised(conn)

    def initialise(self, admin_password: str | None = None) -> str:
        """Create the database: system tables, ``base`` and ``web``, the administrator.

        Returns the administrator's password (random unless given).
        """
        from erpcore.modules.loading import install

        with self.transaction() as conn:
            db.create_system_tables(conn)
            db.set_parameter(conn, "database.uuid", str(uuid.uuid4()))
            db.set_parameter(conn, "base.company_name", "My Company")
            install(self, conn, ["base", "web"])
            password = admin_password or secrets.token_urlsafe(12)
            env = Environment(self.registry(conn), conn, None, su=True)
            env["res.users"].create({
                "login": "admin",
                "name": "Administrator",
                "password": password,
                "group_ids": [env.ref("base.group_user").id, env.ref("base.group_system").id],
            })
        return password
