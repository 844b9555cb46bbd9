"""Fixtures of the mail tests: a real SMTP server, and live servers that send to it.

``mail_erp(...)`` is ``make_erp`` (SQLite, then PostgreSQL) with auth_totp,
the SMTP settings pointing at the test's SMTP server and the server's mail
sender running, as ``erpcore serve`` runs it. The sender looks at the
outbox every 0.1 s of real time; waits and retries follow the injected clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from erpcore.mail import start_mail_delivery
from tests.mail.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_erp(make_erp, backend, smtp) -> Iterator:
    """``mail_erp(addons=("auth_totp",), **config)`` -> a live server that sends mail."""
    senders = []

    def make(addons: tuple[str, ...] = ("auth_totp",), **overrides):
        settings = {"smtp_server": "127.0.0.1", "smtp_port": smtp.port,
                    "mail_poll_interval": 0.1, "public_url": "https://erp.example.com",
                    "email_from": "erp@example.com", **overrides}
        erp = make_erp(backend, addons=addons, **settings)
        erp.mail = start_mail_delivery(erp.server)
        senders.append(erp.mail)
        return erp

    yield make
    for sender in senders:
        sender.stop()


def outbox(erp) -> list:
    """Every row of the outbox, oldest first."""
    with erp.server.transaction() as conn:
        table = erp.server.registry(conn).models["mail.mail"]._sa_table
        return conn.execute(sa.select(table).order_by(table.c.id)).all()


def wait_all_sent(erp, timeout: float = 20) -> list:
    """Wait until no message is left to send (sent or failed); returns the outbox."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = outbox(erp)
        if rows and all(row.state != "outgoing" for row in rows):
            return rows
        if getattr(erp, "mail", None):  # a sender of this test process
            erp.mail.wake()
        time.sleep(0.05)
    raise AssertionError(f"messages still outgoing after {timeout} s: "
                         f"{[(r.id, r.kind, r.state, r.failure_reason) for r in outbox(erp)]}")


def parts(message) -> dict[str, str]:
    """The decoded text and HTML parts of *message*."""
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            found[part.get_content_type()] = part.get_content().replace("\r\n", "\n")
    return found


def assert_no_secret(received, secrets: list[str], codes: list[str] = ()) -> None:
    """No secret in any header or part of *received*, raw or decoded, with or without
    its separators; no 6-digit *code* as a number of its own in a header or part."""
    message = received.message
    decoded = [*parts(message).values(), *(f"{k}: {v}" for k, v in message.items())]
    texts = [received.raw.decode("utf-8", "replace"), *decoded]
    for secret in secrets:
        assert len(secret) >= 12, "short values are checked as codes"
        bare = secret.replace(" ", "").replace("-", "")
        for text in texts:
            squeezed = text.replace(" ", "").replace("-", "").replace("=\r\n", "")
            assert secret not in text and bare not in squeezed, \
                f"a secret is in the mail {message['Subject']!r}"
    for code in codes:
        for text in decoded:
            assert not re.search(rf"(?<!\d){code}(?!\d)", text), \
                f"a code is in the mail {message['Subject']!r}"
