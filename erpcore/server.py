"""The server object: configuration, database engine, keyring, current registry.

One :class:`Server` lives in each process. Its registry follows the database:
at each request the registry and configuration sequences are read (in the
statement that reads the session); a changed registry number (another process installed or removed
an addon) rebuilds the registry, a changed configuration number drops the
cached settings.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from erpcore import db
from erpcore.config import Config
from erpcore.keys import Keyring, KeyringError, KeyringMissing
from erpcore.modules.addons import Addon, discover, installed_names
from erpcore.orm.environment import Environment
from erpcore.registry import Registry

_logger = logging.getLogger(__name__)

#: the parameter recording the id and fingerprint of every key that sealed values
KEYS_PARAMETER = "database.keys"


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
            self._engine = db.create_engine(self.config.database_url,
                                            pool_size=self.config.http_threads)
        return self._engine

    @property
    def keyring(self) -> Keyring:
        """The keyring of ``ERPCORE_SECRET_KEYS`` or of the data directory; never created here."""
        if self._keyring is None:
            self._keyring = Keyring.from_environment_or(self.config.keyring_path)
        return self._keyring

    def prepare_data_dir(self) -> None:
        """Create the data directory, private to this user, and check it is writable."""
        try:
            self.config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # a probe of its own: two commands may start at once on one directory
            with tempfile.TemporaryFile(dir=self.config.data_dir):
                pass
        except OSError as exc:
            raise ServerError(
                f"data directory {self.config.data_dir} is not writable: {exc.strerror}"
            ) from exc

    def dispose(self) -> None:
        """Forget the connection pool (after a fork, or at shutdown)."""
        if self._engine is not None:
            self._engine.dispose(close=False)
            self._engine = None

    def discover(self) -> dict[str, Addon]:
        return discover(self.config.addons_path)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    def build_registry(self, conn: Connection, addons: list[Addon],
                       sequence: int = 0) -> Registry:
        database_uuid = db.get_parameter(conn, "database.uuid", "")
        return Registry(addons, self.config, self.keyring, database_uuid or "", sequence)

    @property
    def loaded_registry(self) -> Registry | None:
        """The registry built last, if any: the one a request will most likely run in,
        before it has read the sequences that tell."""
        return self._registry

    def registry(self, conn: Connection, sequences: tuple[int, int] | None = None
                 ) -> Registry:
        """The registry matching the database's addons, rebuilt when they changed.

        *sequences*: the registry and configuration sequences, when the caller
        has just read them (the HTTP pipeline reads them with the session).
        """
        sequence, config_sequence = sequences or db.sequences(conn)
        current = self._registry
        if current is None or current.sequence != sequence:
            with self._lock:
                if self._registry is None or self._registry.sequence != sequence:
                    available = self.discover()
                    names = installed_names(conn, available)
                    self._registry = self.build_registry(
                        conn, [available[n] for n in names], sequence)
                    _logger.info("registry loaded (sequence %d): %s", sequence,
                                 ", ".join(names))
                current = self._registry
        current.settings.refresh(config_sequence)
        return current

    @contextmanager
    def environment(self, uid: int | None = None, su: bool = True,
                    context: dict | None = None) -> Iterator[Environment]:
        """An environment in a fresh transaction, for commands and tests; its ``now`` is
        the server's clock at the start."""
        with self.transaction() as conn:
            yield Environment(self.registry(conn), conn, uid, su,
                              {"now": self.clock(), **(context or {})})

    def is_initialised(self) -> bool:
        with self.engine.connect() as conn:
            return db.is_initialised(conn)

    # -- keys ------------------------------------------------------------------

    def check_keyring(self) -> None:
        """Refuse a keyring that lacks a key this database's values were sealed with.

        A missing keyring is never made anew for an existing database: every
        sealed secret would stop opening, and a keyring restored later would
        not open the secrets sealed meanwhile.
        """
        try:
            keyring = self.keyring
        except KeyringMissing as exc:
            raise KeyringError(
                f"{exc}, but the database exists: restore the keyring from your backup "
                "(it is not in the database) or set ERPCORE_SECRET_KEYS") from exc
        with self.engine.connect() as conn:
            recorded = json.loads(db.get_parameter(conn, KEYS_PARAMETER) or "{}")
            fingerprints = keyring.fingerprints()
            missing = sorted(kid for kid, print_ in recorded.items()
                             if fingerprints.get(kid) != print_)
            if missing:
                raise KeyringError(
                    f"the keyring does not hold the keys this database was sealed with "
                    f"(missing: {', '.join(missing)}): restore the keyring that goes with it")
            if keyring.primary not in recorded:
                # a new primary key given by hand (ERPCORE_SECRET_KEYS): from now on it seals
                self.record_keys(conn)
                conn.commit()

    def record_keys(self, conn: Connection) -> None:
        """Record the id and fingerprint of every key of the keyring (never the keys)."""
        recorded = json.loads(db.get_parameter(conn, KEYS_PARAMETER) or "{}")
        recorded.update(self.keyring.fingerprints())
        db.set_parameter(conn, KEYS_PARAMETER, json.dumps(recorded, sort_keys=True))
