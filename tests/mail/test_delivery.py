"""Delivery: SMTP down, retries and their waits, giving up, the periodic jobs.

The retry and give-up tests drive one sender turn at a time
(``MailDelivery.deliver_due``, what the thread runs) with the injected
clock, against a real SMTP server that is down or refuses.
"""

from __future__ import annotations

import logging

import pytest

from erpcore.mail import MailDelivery
from erpcore.mail.jobs import PeriodicJob, periodic_jobs, run_due_jobs
from erpcore.mail.outbox import RETRY_DELAYS, timestamp, utc
from erpcore.orm import AccessError
from erpcore.server import Server
from tests.mail.conftest import outbox, wait_all_sent
from tests.support import USER_PASSWORD
from tests.support_totp import activate_through_pages, password_step, submit_code

SMTP_PASSWORD = "smtp-secret-password-7"

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def queue(erp, login: str = "demo", kind: str = "test.kind", email_to: str | None = None):
    """One message for *login*, as the web addon queues one, committed."""
    with erp.env() as env:
        user = env["res.users"].search([("login", "=", login)])
        mail = env["mail.mail"]._queue(user, kind, "web.mail_email_changed",
                                       {"at": erp.clock(), "ip": "192.0.2.1", "new": ""},
                                       now=erp.clock(), email_to=email_to)
        return mail.id


def test_smtp_down_sign_in_and_activation_work_and_mail_arrives_once_when_it_is_back(
        mail_erp, smtp):
    erp = mail_erp()
    smtp.stop()  # nothing listens on its port now
    demo = erp.client()
    demo.login("demo", USER_PASSWORD)
    _secret, codes = activate_through_pages(demo, erp, USER_PASSWORD)  # no error page
    demo.post("/web/session/logout", from_page="/web")
    again = erp.client()
    password_step(again, "demo", USER_PASSWORD)
    response = submit_code(again, codes[0])
    assert response.status_code == 200 and again.path() == "/web"
    tried = wait_tried(erp, 2)
    assert all(row.state == "outgoing" and "Connection" in row.failure_reason for row in tried)
    assert smtp.received == []
    smtp.start()  # back, on the same port
    erp.clock.advance(RETRY_DELAYS[0])
    smtp.wait_for(2)
    rows = wait_all_sent(erp)
    assert [row.state for row in rows] == ["sent", "sent"]
    ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(ids) == 2 and len(set(ids)) == 2  # each exactly once
    assert sorted(ids) == sorted(row.message_id for row in rows)


def wait_tried(erp, count: int) -> list:
    """The outbox, once *count* messages were tried at least once."""
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = outbox(erp)
        if len(rows) >= count and all(r.attempts >= 1 and r.claimed_until is None
                                      for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"not tried: {outbox(erp)}")


@pytest.fixture
def quiet_erp(make_erp, backend, smtp):
    """A server whose mail is sent by the test's own turns, not by a thread."""
    return make_erp(backend, addons=("auth_totp",), smtp_server="127.0.0.1", smtp_port=smtp.port,
                    smtp_user="erp", smtp_password=SMTP_PASSWORD)


def test_retries_wait_longer_each_time_then_give_up_after_a_day(quiet_erp, smtp, caplog):
    erp = quiet_erp
    smtp.stop()
    sender = MailDelivery(erp.server)
    start = erp.clock()
    queue(erp)
    seen = []
    with caplog.at_level(logging.INFO):
        for _ in range(12):
            assert sender.deliver_due() == 1
            row = outbox(erp)[0]
            if row.state == "exception":
                break
            seen.append(round(timestamp(row.scheduled_date) - start))
            erp.clock.advance(0.5)
            assert sender.deliver_due() == 0  # not before its time
            erp.clock.set(timestamp(row.scheduled_date))
    assert seen == [60, 360, 1260, 4860, 12060, 26460, 55260, 84060, 86400]
    assert row.state == "exception" and row.attempts == len(seen) + 1
    assert any("failed for good" in r.getMessage() for r in caplog.records)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert SMTP_PASSWORD not in logged and SMTP_PASSWORD not in str(row)


def test_a_recipient_refused_for_good_fails_at_once_and_a_wrong_password_is_retried(
        quiet_erp, smtp, caplog):
    erp = quiet_erp
    restart(smtp, ("erp", SMTP_PASSWORD))  # a server that wants our login
    smtp.refused_recipients.add("gone@example.com")
    first = queue(erp, email_to="gone@example.com")
    sender = MailDelivery(erp.server)
    with caplog.at_level(logging.INFO):
        sender.deliver_due()
    row = outbox(erp)[0]
    assert (row.id, row.state, row.attempts) == (first, "exception", 1)
    assert "550" in row.failure_reason and "recipient refused" in row.failure_reason

    restart(smtp, ("erp", "another-password-9"))  # a password changed on one side only
    second = queue(erp, kind="other")
    with caplog.at_level(logging.INFO):
        sender.deliver_due()
    row = outbox(erp)[1]
    assert (row.id, row.state, row.attempts) == (second, "outgoing", 1)  # tried again later
    assert "authentication refused: 535" in row.failure_reason
    assert SMTP_PASSWORD not in caplog.text and SMTP_PASSWORD not in row.failure_reason
    restart(smtp, ("erp", SMTP_PASSWORD))  # set right again: it goes at the next try
    erp.clock.advance(60)
    sender.deliver_due()
    assert outbox(erp)[1].state == "sent" and smtp.wait_for(1)[0].rcpt_tos == (
        "demo@example.com",)


def restart(smtp, credentials: tuple[str, str]) -> None:
    smtp.stop()
    smtp.credentials = credentials
    smtp.start()


def test_a_claim_excludes_other_senders_until_its_lease_ends(quiet_erp, smtp):
    """A sender that died after claiming: others wait for its lease, then send."""
    erp = quiet_erp
    erp.server.config.smtp_user = ""  # the test server asks for no login
    queue(erp)
    other = Server(erp.server.config, clock=erp.clock)  # another process on the database
    try:
        with erp.server.transaction() as conn:  # the dead sender's claim
            from erpcore.mail.outbox import claim

            table = erp.server.registry(conn).models["mail.mail"]._sa_table
            assert len(claim(conn, table, erp.clock(), 300).rows) == 1
        assert MailDelivery(other).deliver_due() == 0
        erp.clock.advance(301)
        assert MailDelivery(other).deliver_due() == 1
    finally:
        other.dispose()
    row = outbox(erp)[0]
    assert (row.state, row.attempts) == ("sent", 2)
    assert len(smtp.wait_for(1)) == 1


def test_periodic_jobs_run_once_per_interval_across_processes(quiet_erp):
    erp = quiet_erp
    runs = []

    def job(env, now):
        runs.append((env.conn.engine.url, now))
        if len(runs) == 2:
            raise RuntimeError("a failing run is rolled back and tried again")

    periodic_jobs["erpcore.test_job"] = PeriodicJob("erpcore.test_job", 60, job, "erpcore")
    other = Server(erp.server.config, clock=erp.clock)
    try:
        start = erp.clock()
        assert "erpcore.test_job" in run_due_jobs(erp.server, start)
        assert "erpcore.test_job" not in run_due_jobs(other, start + 59)
        assert "erpcore.test_job" not in run_due_jobs(other, start + 60)  # it fails
        assert "erpcore.test_job" in run_due_jobs(other, start + 61)  # so it is tried again
        assert "erpcore.test_job" not in run_due_jobs(erp.server, start + 62)
    finally:
        del periodic_jobs["erpcore.test_job"]
        other.dispose()
    assert len(runs) == 3


def test_sent_mail_is_forgotten_after_thirty_days_failed_mail_is_kept(quiet_erp, smtp):
    erp = quiet_erp
    erp.server.config.smtp_user = ""
    old, failed = queue(erp, kind="a"), queue(erp, kind="b")
    MailDelivery(erp.server).deliver_due()
    with erp.env() as env:
        env["mail.mail"].browse(failed).write({"state": "exception"})
    erp.clock.advance(30 * 86400 + 1)
    recent = queue(erp, kind="c")
    ran = run_due_jobs(erp.server, erp.clock())
    assert "base.forget_old_sent_mail" in ran
    assert [row.id for row in outbox(erp)] == [failed, recent]
    assert old not in [row.id for row in outbox(erp)]
    assert utc(erp.clock())  # the clock the job was given is the server's


def test_a_message_lists_the_latest_twenty_events_and_counts_the_others(quiet_erp):
    erp = quiet_erp
    for n in range(25):
        with erp.env() as env:
            user = env["res.users"].search([("login", "=", "demo")])
            env["mail.mail"]._queue(user, "test.many", "web.mail_email_changed",
                                    {"at": erp.clock() + n, "ip": f"192.0.2.{n}", "new": ""},
                                    now=erp.clock() + n)
    (row,) = outbox(erp)  # all joined the one message waiting to be sent
    assert "Ce message signale 25 événements de ces dernières minutes\u00a0; seuls les 20 " \
           "derniers sont listés." in row.body_text
    assert row.body_text.count("depuis l'adresse") == 20
    assert "192.0.2.4," not in row.body_text and "192.0.2.5," in row.body_text


def test_a_message_exists_only_with_its_event_and_only_administrators_read_the_outbox(
        quiet_erp):
    erp = quiet_erp
    with pytest.raises(RuntimeError), erp.env() as env:  # the event's transaction fails
        user = env["res.users"].search([("login", "=", "demo")])
        env["auth_totp.event"].record(user.id, "enabled", now=erp.clock(), ip="192.0.2.1")
        assert env["mail.mail"].search_count([]) == 1
        raise RuntimeError("the request fails after the event")
    assert outbox(erp) == []
    queue(erp)
    with erp.env() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        admin = env["res.users"].search([("login", "=", "admin")])
        assert env(uid=admin.id, su=False)["mail.mail"].search_count([]) == 1
        with pytest.raises(AccessError):
            env(uid=demo.id, su=False)["mail.mail"].search([])
        with pytest.raises(AccessError):
            env(uid=admin.id, su=False)["mail.mail"].create({
                "email_to": "x@example.com", "subject": "x", "message_id": "<x@x>"})


def test_a_message_committed_by_this_process_wakes_its_sender(mail_erp, smtp):
    """The sender looks at the outbox every 30 s here: the commit wakes it at once."""
    erp = mail_erp(mail_poll_interval=30)
    smtp.wait_for(0)
    client = erp.client()
    client.login("demo", USER_PASSWORD)
    activate_through_pages(client, erp, USER_PASSWORD)
    assert smtp.wait_for(1, timeout=10)[0].message["Subject"] == \
        "L'authentification 2FA est activée"
