"""The policy's mail (issue 11 with issue 12): the invitation an administrator sends from
Utilisateurs, and the reminders two days and one day before a deadline, once each.

A real SMTP server, the real sender thread (which also runs the periodic jobs on
the injected clock), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import time

from lxml import html

from erpcore import db
from erpcore.mail.jobs import run_due_jobs
from tests.mail.conftest import outbox, parts, wait_all_sent
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import enable_totp

HOUR = 3600


def create(erp, login: str, email: str = "") -> int:
    with erp.env() as env:
        return env["res.users"].create({
            "login": login, "name": login.title(), "password": USER_PASSWORD, "email": email,
            "group_ids": [env.ref("base.group_user").id]}).id


def test_the_invitation_goes_by_mail_when_mail_is_configured(mail_erp, smtp):
    erp = mail_erp()
    carol = create(erp, "carol", "carol@example.org")
    nomail = create(erp, "nomail")
    admin = erp.client(**{"Accept-Language": "fr"})
    admin.login("admin", ADMIN_PASSWORD)
    admin.post(f"/auth_totp/users/{carol}/invite", from_page="/web/users")
    assert admin.path() == "/web/users?message=invited"
    (received,) = smtp.wait_for(1)
    assert received.message["To"] == "carol@example.org"
    text = parts(received.message)["text/plain"]
    assert "Administrator" in text
    assert "https://erp.example.com/web/preferences" in text
    with erp.env() as env:
        event = env["auth_totp.event"].search([("event", "=", "invited")])
        assert (event.user_id.id, event.actor_id.login, event.detail) == (carol, "admin", "mail")
    # a user without an address: no mail, and the page gives the link instead
    page = admin.post(f"/auth_totp/users/{nomail}/invite", from_page="/web/users")
    box = html.fromstring(page.content).get_element_by_id("totp-invite")
    text, link = (p.text_content() for p in box.xpath("p"))
    assert text.startswith("Nomail n'a pas d'adresse électronique\u00a0: aucune invitation")
    assert link == erp.url + "/auth_totp/setup"
    assert [row.kind for row in outbox(erp)] == ["auth_totp.invitation"]


def test_reminders_two_days_and_one_day_before_the_deadline_once_each(mail_erp, smtp):
    erp = mail_erp(mail_poll_interval=3600)  # the test runs the jobs itself, on its clock
    create(erp, "carol", "carol@example.org")
    enable_totp(erp, "demo")  # 2FA on: never reminded
    with erp.env() as env:
        env["res.users"]._totp_set_policy("all", 72, now=erp.clock(), actor_id=None, ip="cli")

    def run_jobs_after(seconds: float) -> list[tuple[str, str]]:
        """Move the clock on, run the jobs, wait until this turn's run is committed (the
        sender's thread may have taken the turn), and list the outbox."""
        erp.clock.advance(seconds)
        run_due_jobs(erp.server, erp.clock())
        deadline = time.monotonic() + 20
        while last_run() != repr(erp.clock()):
            assert time.monotonic() < deadline, "the reminder job did not run"
            time.sleep(0.05)
        # sent before the clock moves on, as a day apart they would be (a message still
        # waiting would take the next one in: see mail.mail's flood window)
        rows = wait_all_sent(erp) if outbox(erp) else []
        return [(row.email_to, row.kind) for row in rows]

    def last_run() -> str | None:
        with erp.server.engine.connect() as conn:
            return db.get_parameter(conn, "periodic_job.auth_totp.send_deadline_reminders"
                                          ".last_run")

    assert run_jobs_after(0) == []  # three days left
    reminder = ("carol@example.org", "auth_totp.deadline")
    assert run_jobs_after(24 * HOUR + 60) == [reminder]  # under two days left
    assert run_jobs_after(HOUR) == [reminder]  # sent once
    assert run_jobs_after(23 * HOUR) == [reminder, reminder]  # under one day left
    assert run_jobs_after(HOUR) == [reminder, reminder]
    assert run_jobs_after(24 * HOUR) == [reminder, reminder]  # the deadline passed
    assert {row.state for row in outbox(erp)} == {"sent"}
    subjects = {r.message["Subject"] for r in smtp.wait_for(2)}
    assert subjects == {"L'authentification 2FA sera bientôt obligatoire"}
    # a new grace period, a new deadline: its own reminders; a short one, both in one mail
    with erp.env() as env:
        carol = env["res.users"].search([("login", "=", "carol")])
        carol._totp_reset(erp.clock())
        env["res.users"]._totp_set_policy("all", 12, now=erp.clock(), actor_id=None,
                                          ip="cli")
    assert run_jobs_after(HOUR) == [reminder] * 3
    assert run_jobs_after(HOUR) == [reminder] * 3
