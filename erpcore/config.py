"""One typed configuration object, with its defaults in one place.

Every setting the server itself reads comes from :class:`Config`; the command
line and the environment fill it. It knows no addon: the settings of addons
(and of the ``base`` addon: password rounds, company name) are declared by
them and stored in the database (:mod:`erpcore.settings`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """The data directory: ``$ERPCORE_DATA_DIR`` or ``~/.local/share/erpcore``."""
    env = os.environ.get("ERPCORE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "erpcore"


@dataclass
class Config:
    """Server settings. Durations are in seconds."""

    #: where the SQLite database, the keyring and logs live
    data_dir: Path = field(default_factory=default_data_dir)
    #: SQLAlchemy URL; empty means SQLite in ``data_dir``
    db_url: str = ""
    #: extra folders holding addons, searched before installed distributions
    addons_path: list[Path] = field(default_factory=list)
    http_interface: str = "127.0.0.1"
    http_port: int = 8069
    #: 0 = one process; N = N worker processes
    workers: int = 0
    #: requests handled at once by each process (each holds a database connection)
    http_threads: int = 8
    #: open connections each process keeps at most; more wait to be accepted
    http_connection_limit: int = 500
    #: a connection that sends nothing for this long is closed
    http_timeout: int = 30
    #: trust X-Forwarded-* from one reverse proxy, mark cookies Secure on HTTPS
    proxy_mode: bool = False
    #: a signed-in session expires after this much idleness
    session_lifetime: int = 7 * 24 * 3600
    #: a half-signed-in session (second factor pending) expires after this
    mfa_session_lifetime: int = 600
    #: the password is asked again when the last check is older than this
    identity_check_lifetime: int = 600
    #: largest request body accepted, in bytes
    max_request_size: int = 1024 * 1024

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "erpcore.sqlite3"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.sqlite_path}"

    @property
    def keyring_path(self) -> Path:
        return self.data_dir / "keyring.json"

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Build a config from ``ERPCORE_*`` variables, then *overrides*."""
        values: dict[str, object] = {}
        if os.environ.get("ERPCORE_DB"):
            values["db_url"] = os.environ["ERPCORE_DB"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
