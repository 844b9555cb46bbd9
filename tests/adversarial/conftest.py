"""Fixtures of the adversarial suite: the server's logs and every secret handed out.

For the whole suite, a handler on the root logger keeps every formatted record
(tracebacks included), and every HTTP client of these tests harvests the
secrets the server hands out: session ids and trusted-browser tokens from
``Set-Cookie``, TOTP keys from the setup page, recovery codes and API keys
from the pages that show them. ``test_zz_logs.py`` runs last and looks for each of them in
the logs. The brute-force measurements are printed in the terminal summary.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from auth_totp import totp
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, Client
from tests.support_totp import CODES_RE, KEY_RE

#: filled by test_bruteforce, printed at the end of the run
MEASURED: dict[str, dict[str, object]] = {}
#: an API key, on the page that shows it once
APIKEY_RE = re.compile(r'id="apikey-value">([0-9a-f]{48})<')


class LogCapture(logging.Handler):
    """Keeps every record as the log file would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._guard:
            self.lines.append(text)

    def text(self) -> str:
        with self._guard:
            return "\n".join(self.lines)


class HandedOut:
    """Every secret the server handed out during the run, by kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, set[str]] = defaultdict(set)
        self._guard = threading.Lock()

    def add(self, kind: str, *values: str) -> None:
        with self._guard:
            self.by_kind[kind].update(v for v in values if v)

    def add_totp_secret(self, secret: bytes) -> None:
        b32 = totp.to_base32(secret)
        self.add("TOTP secret", b32, totp.group(b32), b32.lower(), secret.hex())

    def add_recovery_code(self, code: str) -> None:
        self.add("recovery code", code, code.replace("-", ""))

    def harvest(self, response, *args, **kwargs):
        """A ``requests`` response hook: keep the secrets this response carries."""
        for cookie in response.cookies:
            if cookie.name == "session_id":
                self.add("session id", cookie.value)
            elif cookie.name == "td_id":
                self.add("trusted-browser token", cookie.value)
        if "text/html" in response.headers.get("Content-Type", ""):
            body = response.text
            for key in KEY_RE.findall(body):
                self.add_totp_secret(totp.from_base32(key.replace(" ", "")))
            for code in CODES_RE.findall(body):
                self.add_recovery_code(code)
            for key in APIKEY_RE.findall(body):  # the key, and its part never stored
                self.add("API key", key, key[8:])
        return response

    def count(self) -> int:
        return sum(len(values) for values in self.by_kind.values())

    def found_in(self, text: str) -> list[tuple[str, str]]:
        with self._guard:
            return [(kind, value) for kind, values in self.by_kind.items()
                    for value in values if value in text]


@pytest.fixture(scope="package")
def server_log():
    """Every log record of this suite's run (root logger, DEBUG and up).

    Package-scoped, so tests elsewhere find the root logger as they expect.

    ``sqlalchemy`` stays at WARNING: its INFO level is the SQL echo, a
    debugging switch that is off in production; turning it on by raising the
    root level would only slow the suite down.
    """
    handler = LogCapture()
    root = logging.getLogger()
    sa_logger = logging.getLogger("sqlalchemy")
    saved = root.level, sa_logger.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sa_logger.setLevel(logging.WARNING)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved[0])
    sa_logger.setLevel(saved[1])


@pytest.fixture(scope="package")
def handed_out() -> HandedOut:
    secrets = HandedOut()
    secrets.add("password", ADMIN_PASSWORD, USER_PASSWORD)
    return secrets


@pytest.fixture(autouse=True)
def _harvest_secrets(monkeypatch, server_log, handed_out):
    """Make every :class:`Client` of these tests report what the server hands out."""
    original = Client.__post_init__

    def post_init(self: Client) -> None:
        original(self)
        self.session.hooks["response"].append(handed_out.harvest)

    monkeypatch.setattr(Client, "__post_init__", post_init)


@pytest.fixture
def erp2fa_sqlite(make_erp):
    """auth_totp on SQLite only.

    For behaviour whose SQL is the same on both backends (lookups by hash,
    redirects, page contents); what differs between them (races, the
    throttle's upsert, storage, odd input reaching the database) is tested
    on both with ``erp2fa``. This keeps the suite within its time budget.
    """
    return make_erp("sqlite", addons=("auth_totp",))


def pytest_collection_modifyitems(session, config, items):
    """The log check goes last among this suite's tests, once the others handed out
    their secrets (and still inside the package, whose fixtures hold the log)."""
    here = Path(__file__).parent
    last = [item for item in items if item.path.name == "test_zz_logs.py"]
    rest = [item for item in items if item not in last]
    ours = [n for n, item in enumerate(rest) if here in item.path.parents]
    at = ours[-1] + 1 if ours else len(rest)
    items[:] = rest[:at] + last + rest[at:]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not MEASURED:
        return
    terminalreporter.write_sep("=", "2FA brute force, measured through HTTP")
    for backend, numbers in sorted(MEASURED.items()):
        line = ", ".join(f"{k}: {v}" for k, v in numbers.items())
        terminalreporter.write_line(f"{backend}: {line}")
