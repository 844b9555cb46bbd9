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
from urllib.parse import urlsplit

#: how the connection to the SMTP server is protected (Odoo's ``--smtp-ssl`` values)
SMTP_SECURITY = ("none", "starttls", "ssl")


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message is one line."""


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
    #: the address users reach the server at, for links in mail; empty means
    #: ``http://<http_interface>:<http_port>``
    public_url: str = ""
    #: the SMTP server; empty means mail is kept in the outbox, not sent
    smtp_server: str = ""
    smtp_port: int = 25
    #: ``none``, ``starttls`` or ``ssl`` (SMTP over TLS from the first byte)
    smtp_ssl: str = "none"
    smtp_user: str = ""
    #: from ``ERPCORE_SMTP_PASSWORD`` only; never printed (``repr=False``)
    smtp_password: str = field(default="", repr=False)
    #: the sender of every mail; empty means ``erpcore@<host of public_url>``
    email_from: str = ""
    #: seconds between two looks at the outbox when nothing wakes the sender
    mail_poll_interval: float = 5.0
    #: seconds a sender holds a message it claimed; a dead sender's claim then expires
    mail_lease: float = 300.0

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "erpcore.sqlite3"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.sqlite_path}"

    @property
    def keyring_path(self) -> Path:
        return self.data_dir / "keyring.json"

    @property
    def base_url(self) -> str:
        """The public address of the server, without a trailing slash, for links in mail."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.http_interface}]" if ":" in self.http_interface else self.http_interface
        return f"http://{host}:{self.http_port}"

    @property
    def sender(self) -> str:
        """The From address of mail: ``email_from``, else ``erpcore@`` the public host
        (``localhost`` when that is an IP address, which is no mail domain)."""
        if self.email_from:
            return self.email_from
        host = urlsplit(self.base_url).hostname or ""
        if not host or host.replace(".", "").isdigit() or ":" in host:
            host = "localhost"
        return f"erpcore@{host}"

    def check(self) -> None:
        """Refuse settings that cannot work, in one line each."""
        if self.smtp_ssl not in SMTP_SECURITY:
            raise ConfigError(f"--smtp-ssl must be one of {', '.join(SMTP_SECURITY)}, "
                              f"not {self.smtp_ssl!r}")
        if not 0 < self.smtp_port < 65536:
            raise ConfigError(f"--smtp-port must be a port number, not {self.smtp_port}")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError("--public-url must start with http:// or https://")
        if any(ch.isspace() or ch in "<>" for ch in self.email_from):
            raise ConfigError("--email-from must be one address, such as erp@example.com")

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Build a config from ``ERPCORE_*`` variables, then *overrides*."""
        values: dict[str, object] = {}
        if os.environ.get("ERPCORE_DB"):
            values["db_url"] = os.environ["ERPCORE_DB"]
        for name, variable in _TEXT_FROM_ENV.items():
            if os.environ.get(variable):
                values[name] = os.environ[variable]
        for name, (variable, kind) in _NUMBERS_FROM_ENV.items():
            if os.environ.get(variable):
                try:
                    values[name] = kind(os.environ[variable])
                except ValueError:
                    raise ConfigError(f"{variable} must be a number, "
                                      f"not {os.environ[variable]!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)  # type: ignore[arg-type]
        config.check()
        return config


#: text settings also read from the environment (the command line wins)
_TEXT_FROM_ENV = {
    "smtp_server": "ERPCORE_SMTP",
    "smtp_ssl": "ERPCORE_SMTP_SSL",
    "smtp_user": "ERPCORE_SMTP_USER",
    "smtp_password": "ERPCORE_SMTP_PASSWORD",  # only from here: never on a command line
    "email_from": "ERPCORE_EMAIL_FROM",
    "public_url": "ERPCORE_PUBLIC_URL",
}
#: numeric settings read from the environment, with their type
_NUMBERS_FROM_ENV = {
    "smtp_port": ("ERPCORE_SMTP_PORT", int),
    "mail_poll_interval": ("ERPCORE_MAIL_POLL_INTERVAL", float),
    "mail_lease": ("ERPCORE_MAIL_LEASE", float),
}
