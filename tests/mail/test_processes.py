"""Real ``erpcore serve`` processes sharing one PostgreSQL database and one outbox.

Server A runs two prefork workers, server B one threaded process; each
process has its own sender. Every message is sent once however many
senders race for it, and a sender killed in the middle of a message
leaves it to be sent again when its claim runs out: it arrives.
"""

from __future__ import annotations

import glob
import os
import re
import time
from pathlib import Path

import pytest

from tests.mail.smtp import SmtpServer
from tests.mail.test_delivery import queue
from tests.workers.conftest import deployments

#: short enough for a test; each SMTP step then gives up after a quarter of it
LEASE = 10


@pytest.fixture(scope="module")
def module_smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def servers(templates, tmp_path_factory, module_smtp):
    with deployments(templates, tmp_path_factory.mktemp("mail")) as make:
        deployment = make("postgresql")
        options = ("--smtp", "127.0.0.1", "--smtp-port", str(module_smtp.port))
        tuning = {"ERPCORE_MAIL_POLL_INTERVAL": "0.2", "ERPCORE_MAIL_LEASE": str(LEASE)}
        a = deployment.start(workers=2, wait=False, extra=options, extra_env=tuning)
        b = deployment.start(workers=0, wait=False, extra=options, extra_env=tuning)
        yield deployment, a.wait_ready(), b.wait_ready()


class Queued:
    """Messages queued from this test process, as another server's request would."""

    def __init__(self, deployment):
        self.server = deployment.server
        self.clock = self.server.clock

    def env(self):
        return self.server.environment()


def wait_marked(deployment, ids: list[int], timeout: float = 30) -> dict[int, tuple]:
    """{id: (message_id, state, attempts)} once none of *ids* is outgoing any more."""
    deadline = time.monotonic() + timeout
    while True:
        with deployment.server.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, message_id, state, attempts FROM mail_mail WHERE id = ANY(%(ids)s)",
                {"ids": ids}).all()
        if all(row.state != "outgoing" for row in rows) or time.monotonic() > deadline:
            return {row.id: tuple(row[1:]) for row in rows}
        time.sleep(0.1)


SENT_RE = re.compile(r"^\S+ \S+ (\d+) INFO erpcore\.mail\.delivery: mail (\d+) sent", re.M)


def sent_by(log: str) -> list[tuple[int, int]]:
    """(mail id, process id) of each message the servers' logs say they sent."""
    return [(int(mail_id), int(pid)) for pid, mail_id in SENT_RE.findall(log)]


def sender_pid(peer: tuple[str, int], candidates: list[int]) -> int:
    """The process among *candidates* holding the TCP connection from *peer*'s port."""
    wanted = f"0100007F:{peer[1]:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted:
            inodes.add(f"socket:[{fields[9]}]")
    for pid in candidates:
        for fd in glob.glob(f"/proc/{pid}/fd/*"):
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no process of {candidates} holds {peer}")


def test_two_servers_share_the_outbox_and_send_each_message_once(servers, module_smtp):
    deployment, a, b = servers
    assert len(a.wait_workers(2)) == 2 and b.workers() == []
    before = len(module_smtp.received)
    source = Queued(deployment)
    ids = [queue(source, kind=f"test.shared.{n}") for n in range(60)]
    module_smtp.wait_for(before + len(ids), timeout=60)
    rows = wait_marked(deployment, ids)
    assert {state for _mid, state, _n in rows.values()} == {"sent"}
    message_ids = [r.message["Message-ID"] for r in module_smtp.received[before:]]
    assert sorted(message_ids) == sorted(mid for mid, _s, _n in rows.values())  # each once
    senders = sent_by(a.output() + b.output())  # each process logs what it sent
    assert sorted(mail_id for mail_id, _pid in senders if mail_id in ids) == sorted(ids)
    assert len({pid for mail_id, pid in senders if mail_id in ids}) >= 2, \
        "one process sent everything: no race was run"


def test_a_sender_killed_in_the_middle_of_a_message_leaves_it_to_be_sent(servers,
                                                                         module_smtp):
    deployment, a, b = servers
    module_smtp.stall()
    before = len(module_smtp.received)
    mail_id = queue(Queued(deployment), kind="test.killed")
    assert module_smtp.stalled.wait(30), "no sender reached the SMTP server"
    candidates = [*a.wait_workers(2), b.process.pid]
    victim = sender_pid(module_smtp.stalled_peers[0], candidates)
    a.kill_worker(victim)  # SIGKILL, whichever process it is
    module_smtp.resume()
    received = module_smtp.wait_for(before + 1, timeout=LEASE + 30)[before:]
    message_id, state, attempts = wait_marked(deployment, [mail_id])[mail_id]
    assert len(module_smtp.received) == before + 1
    assert received[0].message["Message-ID"] == message_id
    assert (state, attempts) == ("sent", 2)  # the killed try, then the one that went
