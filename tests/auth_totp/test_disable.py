"""Turning 2FA off: by the user, by an administrator, and from the server's command line."""

import os
import subprocess
import sys

from lxml import html

from tests.support import ADMIN_PASSWORD, USER_PASSWORD, count_rows
from tests.support_totp import code, enable_totp, password_step, submit_code


def signed_in(erp, secret, login="demo", password=USER_PASSWORD, **headers):
    client = erp.client(**headers)
    password_step(client, login, password)
    submit_code(client, code(secret, erp))
    assert client.path() == "/web"
    erp.clock.advance(30)
    return client


def state(erp):
    return (count_rows(erp.server, "res_users", "WHERE totp_secret IS NOT NULL"),
            count_rows(erp.server, "auth_totp_recovery_code"),
            count_rows(erp.server, "auth_totp_device"))


def test_user_turns_it_off_after_the_password_check(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client = signed_in(erp2fa, secret)
    erp2fa.clock.advance(601)
    client.post("/auth_totp/disable", from_page="/web/preferences",
                headers={"Referer": erp2fa.url + "/web/preferences"})
    assert client.path().startswith("/web/identity")
    assert state(erp2fa) == (1, 10, 0)
    client.post("/web/identity", {"password": USER_PASSWORD, "redirect": "/web/preferences"})
    client.post("/auth_totp/disable", from_page="/web/preferences")
    assert client.path() == "/web/preferences?message=totp_disabled"
    assert state(erp2fa) == (0, 0, 0)
    client.post("/web/session/logout", from_page="/web")
    client.login("demo", USER_PASSWORD)
    assert client.path() == "/web"


def test_administrator_turns_it_off_from_users(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    admin = erp2fa.client(**{"Accept-Language": "fr"})
    admin.login("admin", ADMIN_PASSWORD)
    users = html.fromstring(admin.get("/web/users").content)
    row = users.xpath("//tr[@data-login='demo']")[0]
    assert row.xpath("td[@class='totp-state']")[0].text_content().strip() == "Activée"
    assert "Désactiver la 2FA" in row.text_content()
    admin_row = users.xpath("//tr[@data-login='admin']")[0]
    assert admin_row.xpath("td[@class='totp-state']")[0].text_content().strip() == "Désactivée"
    with erp2fa.server.environment() as env:
        demo_id = env["res.users"].search([("login", "=", "demo")]).id
    # a plain user cannot do it, even to themselves through this door
    user = signed_in(erp2fa, secret)
    assert user.post(f"/auth_totp/users/{demo_id}/disable",
                     from_page="/web/preferences").status_code == 403
    assert state(erp2fa)[0] == 1
    erp2fa.clock.advance(601)  # the administrator's password check is stale
    admin.post(f"/auth_totp/users/{demo_id}/disable", from_page="/web/users",
               headers={"Referer": erp2fa.url + "/web/users"})
    assert admin.path().startswith("/web/identity")
    assert state(erp2fa)[0] == 1
    admin.post("/web/identity", {"password": ADMIN_PASSWORD, "redirect": "/web/users"})
    admin.post(f"/auth_totp/users/{demo_id}/disable", from_page="/web/users")
    assert admin.path() == "/web/users?message=totp_disabled"
    assert state(erp2fa) == (0, 0, 0)
    with erp2fa.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "disabled")])
        assert event.user_id.login == "demo" and event.actor_id.login == "admin"


def run_cli(erp, *args):
    env = {**os.environ, "ERPCORE_PASSWORD_ROUNDS": "1000"}
    command = [sys.executable, "-m", "erpcore", "--data-dir", str(erp.server.config.data_dir)]
    if erp.server.config.db_url:
        command += ["--db", erp.server.config.db_url]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_command_line_status_and_disable(erp2fa):
    secret = enable_totp(erp2fa, "admin")
    signed_in(erp2fa, secret, "admin", ADMIN_PASSWORD)
    status = run_cli(erp2fa, "2fa", "status")
    assert status.returncode == 0, status.stderr
    lines = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:]}
    assert lines["admin"][:2] == ["on", "10"] and lines["admin"][2] != "-"
    assert lines["demo"] == ["off", "-", "-"]
    done = run_cli(erp2fa, "2fa", "disable", "admin")
    assert done.returncode == 0 and "2FA turned off for admin" in done.stdout
    assert state(erp2fa) == (0, 0, 0)
    unknown = run_cli(erp2fa, "2fa", "disable", "nobody")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1] == \
        "erpcore: error: no user with login 'nobody'"
    with erp2fa.server.environment() as env:
        event = env["auth_totp.event"].search([("event", "=", "disabled")])
        assert event.ip == "cli" and event.detail == "erpcore 2fa disable"
