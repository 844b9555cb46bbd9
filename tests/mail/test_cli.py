"""``erpcore mail list|retry``, ``user create --email``, the SMTP options, and ``serve``:
one line saying mail is not configured, or a sender that delivers."""

from __future__ import annotations

from tests.mail.conftest import outbox, wait_all_sent
from tests.server.helpers import (
    Serving,
    cli_env,
    free_port,
    one_line_error,
    run_cli,
    run_many,
)
from tests.support_totp import enable_totp

SMTP_PASSWORD = "smtp-password-never-shown"


def queue(erp, kind: str) -> int:
    with erp.env() as env:
        user = env["res.users"].search([("login", "=", "demo")])
        return env["mail.mail"]._queue(user, kind, "web.mail_email_changed",
                                       {"at": erp.clock(), "ip": "", "new": ""},
                                       now=erp.clock()).id


def test_mail_list_and_retry_user_email_and_the_smtp_settings(make_erp, backend):
    erp = make_erp(backend, addons=("auth_totp",))
    config = erp.server.config
    enable_totp(erp, "demo")

    def cli(*args, **env):
        return run_cli(*args, data_dir=config.data_dir, db_url=config.db_url, addons=False,
                       env=cli_env(ERPCORE_SMTP_PASSWORD=SMTP_PASSWORD, **env))

    disabled = cli("2fa", "disable", "demo")  # told to the user: by the server's command line
    assert disabled.returncode == 0, disabled.stderr
    sent, failed = queue(erp, "test.a"), queue(erp, "test.b")
    with erp.env() as env:
        env["mail.mail"].browse(sent).write({"state": "sent"})
        env["mail.mail"].browse(failed).write({"state": "exception",
                                               "failure_reason": "recipient refused: 550"})
    listing = cli("--smtp", "smtp.example.com", "mail", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "QUEUED", "TO", "TRIES", "SUBJECT"]
    assert len([line for line in lines if "demo@example.com" in line]) == 3
    assert "L'authentification 2FA est désactivée" in listing.stdout
    assert "last failure: recipient refused: 550" in listing.stdout
    only_failed = cli("mail", "list", "--failed").stdout.splitlines()
    assert len(only_failed) == 3 and only_failed[1].split()[:2] == [str(failed), "exception"]
    with erp.env() as env:
        told = env["mail.mail"].search([("kind", "=", "auth_totp.disabled")])
        assert "par un administrateur du serveur, en ligne de commande" in told.body_text

    where = {"data_dir": config.data_dir, "db_url": config.db_url, "addons": False}
    refused = run_many([(("mail", "retry", value), where)
                        for value in ("999999", "0", str(sent), "abc")])
    for result, message in zip(refused[:3], ["no message with ID 999999", "no message with ID 0",
                                             f"message {sent} was sent already"], strict=True):
        assert one_line_error(result) == f"erpcore: error: {message}"
    assert "invalid int value" in one_line_error(refused[3])
    retried = cli("mail", "retry", str(failed))
    assert retried.stdout == "1 message(s) will be sent again by a server started with --smtp\n"
    assert cli("mail", "retry").stdout.startswith("0 message(s)")
    state = {row.id: (row.state, row.attempts) for row in outbox(erp)}
    assert state[failed] == ("outgoing", 0) and state[sent] == ("sent", 0)

    bad = cli("user", "create", "ana", "--password", "ana-password-1", "--email", "ana@")
    assert one_line_error(bad) == "erpcore: error: This email address is not valid."
    made = cli("user", "create", "ana", "--password", "ana-password-1",
               "--email", "ana@example.org")
    assert made.returncode == 0, made.stderr
    with erp.env() as env:
        assert env["res.users"].search([("login", "=", "ana")]).email == "ana@example.org"



def test_serve_says_mail_is_not_configured_or_sends_it(make_erp, smtp, tmp_path):
    erp = make_erp("sqlite")
    config = erp.server.config
    where = {"data_dir": config.data_dir, "addons": False}
    with_password = cli_env(ERPCORE_SMTP_PASSWORD=SMTP_PASSWORD)
    refusals = run_many([
        (("--smtp-ssl", "tls", "mail", "list"), where),
        (("mail", "list"), {**where, "env": cli_env(ERPCORE_SMTP_PORT="twenty-five")}),
        (("--smtp-password", SMTP_PASSWORD, "mail", "list"), where),
        ((f"--smtp-password={SMTP_PASSWORD}", "mail", "list"), where),
        (("--smtp", "127.0.0.1", "--smtp-user", "erp", "mail", "list"),
         {**where, "env": with_password}),
    ])
    assert one_line_error(refusals[0]) == \
        "erpcore: error: --smtp-ssl must be one of none, starttls, ssl, not 'tls'"
    assert one_line_error(refusals[1]) == \
        "erpcore: error: ERPCORE_SMTP_PORT must be a number, not 'twenty-five'"
    for refused in refusals[2:4]:  # refused, and not echoed
        assert one_line_error(refused) == ("erpcore: error: the SMTP password is not an "
                                           "option: set ERPCORE_SMTP_PASSWORD (see erpcore --help)")
    assert refusals[4].returncode == 0
    assert all(SMTP_PASSWORD not in r.stdout + r.stderr for r in refusals)
    with Serving("--http-port", free_port(), "serve", folder=tmp_path / "plain",
                 data_dir=config.data_dir, addons=False) as plain:
        plain.wait_ready()
        notes = [line for line in plain.stdout.splitlines() if "Mail" in line]
        assert notes == ["Mail is not configured (no --smtp): messages are kept in the outbox "
                         "(erpcore mail list)."]
    mail_id = queue(erp, "test.serve")
    env = cli_env(ERPCORE_SMTP="127.0.0.1", ERPCORE_SMTP_PORT=str(smtp.port),
                  ERPCORE_MAIL_POLL_INTERVAL="0.2", ERPCORE_SMTP_PASSWORD=SMTP_PASSWORD)
    with Serving("--http-port", free_port(), "--email-from", "erp@example.com", "serve",
                 folder=tmp_path / "smtp", data_dir=config.data_dir, addons=False,
                 env=env) as serving:
        serving.wait_ready()
        received = smtp.wait_for(1)[0]
        assert "Mail is not configured" not in serving.stdout
        wait_all_sent(erp)
    assert received.rcpt_tos == ("demo@example.com",)
    assert received.message["From"] == "erp@example.com"
    assert [row.state for row in outbox(erp) if row.id == mail_id] == ["sent"]
    assert SMTP_PASSWORD not in serving.stdout + serving.stderr
