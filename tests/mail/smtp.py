"""A real SMTP server for the mail tests (aiosmtpd), on a free loopback port.

It keeps what it accepted, raw, and can be told to misbehave as servers do:
be down (the port refuses connections), refuse a recipient for good (550),
or stall in the middle of a message (after DATA, before its reply) until
released, so that a test can kill the process that is sending.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.workers.processes import free_port


@dataclass(frozen=True)
class Received:
    rcpt_tos: tuple[str, ...]
    raw: bytes
    #: the client's (address, port), to find the process that sent it
    peer: tuple[str, int]

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


class _Handler:
    def __init__(self, owner: SmtpServer):
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.owner.refused_recipients:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        owner = self.owner
        if owner.stalling:
            owner.stalled_peers.append(session.peer)
            owner.stalled.set()
            # hold the sender in the middle of its message until the test releases it
            await asyncio.get_running_loop().run_in_executor(None, owner.release.wait, 60)
            return "451 4.3.0 try again later"
        with owner.condition:
            owner.received.append(Received(tuple(envelope.rcpt_tos), envelope.original_content
                                            or envelope.content, session.peer))
            owner.condition.notify_all()
        return "250 OK"


class SmtpServer:
    """``start()``, ``stop()`` (down), ``start()`` again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.condition = threading.Condition()
        self.refused_recipients: set[str] = set()
        self.stalling = False
        self.stalled = threading.Event()
        self.stalled_peers: list[tuple[str, int]] = []
        self.release = threading.Event()
        #: (login, password) to require, or None for a server that asks for none
        self.credentials: tuple[str, str] | None = None
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode()) \
            if isinstance(auth_data, LoginPassword) else None
        return AuthResult(success=given == self.credentials, handled=False)

    def start(self) -> SmtpServer:
        options = {}
        if self.credentials:
            # plain text on loopback is fine for a test; one mechanism keeps it short
            options = {"authenticator": self._authenticate, "auth_required": True,
                       "auth_require_tls": False, "auth_exclude_mechanism": ["LOGIN"]}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def stall(self) -> None:
        self.stalling, self.stalled_peers = True, []
        self.stalled.clear()
        self.release.clear()

    def resume(self) -> None:
        self.stalling = False
        self.release.set()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """The messages accepted, once there are at least *count* of them."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} message(s) received, "
                                         f"{count} expected after {timeout} s")
                self.condition.wait(left)
            return list(self.received)

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]
