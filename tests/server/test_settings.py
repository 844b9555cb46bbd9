"""Settings that addons declare: stored in the database, cached, seen by every server, changed
with ``erpcore config``, overridden from the environment where a setting says so."""

from __future__ import annotations

import re

import pytest

from erpcore.settings import Setting, SettingError, Settings
from tests.server.helpers import one_line_error, run_cli
from tests.support import USER_PASSWORD
from tests.support_totp import KEY_RE, code, enable_totp, password_step, submit_code

NUMBER = Setting("test_settings.number", int, default=7, minimum=0, maximum=100,
                 env="ERPCORE_TEST_SETTINGS_NUMBER", help="a number")
FLAG = Setting("test_settings.flag", bool, default=False)
CHOICE = Setting("test_settings.choice", str, default="a", choices=("a", "b"))


@pytest.mark.parametrize(("setting", "text", "value"), [
    (NUMBER, " 42 ", 42), (NUMBER, "0", 0), (FLAG, "yes", True), (FLAG, "off", False),
    (CHOICE, "b", "b")])
def test_values_are_parsed_from_their_text(setting, text, value):
    assert setting.parse(text) == value
    assert setting.parse(setting.format(value)) == value


@pytest.mark.parametrize(("setting", "text", "message"), [
    (NUMBER, "", "a whole number"), (NUMBER, "abc", "a whole number"),
    (NUMBER, "١٢", "a whole number"), (NUMBER, "9" * 10_000, "a whole number"),
    (NUMBER, "101", "at most 100"), (NUMBER, "-1", "at least 0"),
    (FLAG, "maybe", "true or false"), (CHOICE, "c", "one of a, b")])
def test_bad_values_are_refused_in_one_line(setting, text, message):
    with pytest.raises(SettingError, match=message) as refused:
        setting.parse(text)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 200


def test_a_setting_is_only_offered_with_its_addon():
    assert "test_settings.number" not in Settings(["base", "web"]).declared
    assert set(Settings(["test_settings"]).declared) == {
        "test_settings.number", "test_settings.flag", "test_settings.choice"}
    with pytest.raises(SettingError, match="unknown setting"):
        Settings(["base"]).setting("test_settings.number")


def test_config_get_and_set_from_the_command_line_reach_the_running_server(erp2fa):
    config = erp2fa.server.config

    def cli(*args: str):
        return run_cli("config", *args, data_dir=config.data_dir, db_url=config.db_url)

    listed = cli("get")
    assert listed.returncode == 0, listed.stderr
    for line in ("base.company_name = My Company", "base.password_rounds = 1000",
                 "auth_totp.issuer = ", "auth_totp.trusted_device_days = 90"):
        assert line in listed.stdout
    assert cli("get", "auth_totp.trusted_device_days").stdout == "90\n"
    for args, message in ((("get", "nope.nothing"), "unknown setting 'nope.nothing'"),
                          (("set", "auth_totp.trusted_device_days", "-3"), "at least 0"),
                          (("set", "auth_totp.trusted_device_days", "x" * 10_000),
                           "a whole number"),
                          (("set", "auth_totp.issuer", "two\nlines"), "one line")):
        assert message in one_line_error(cli(*args))
    assert cli("get", "auth_totp.trusted_device_days").stdout == "90\n"  # unchanged

    done = cli("set", "auth_totp.issuer", "Acme Industries")
    assert done.stdout == "auth_totp.issuer = Acme Industries\n"
    client = erp2fa.client()
    client.login("demo", USER_PASSWORD)
    page = client.get("/auth_totp/setup")  # the running server reads it at once
    assert "Acme Industries" in page.text
    assert KEY_RE.search(page.text)


def test_the_issuer_can_come_from_the_environment(erp2fa, monkeypatch):
    monkeypatch.setenv("ERPCORE_TOTP_ISSUER", "From The Environment")
    config = erp2fa.server.config
    result = run_cli("config", "set", "auth_totp.issuer", "Stored",
                     data_dir=config.data_dir, db_url=config.db_url,
                     env={"ERPCORE_TOTP_ISSUER": "From The Environment"})
    assert "ERPCORE_TOTP_ISSUER is set in this environment and wins" in result.stdout
    with erp2fa.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        wizard = env["auth_totp.wizard"].start(demo.id, erp2fa.clock())
        assert re.match(r"otpauth://totp/From%20The%20Environment:", wizard.uri())


def test_zero_trusted_device_days_turns_trusted_browsers_off(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client = erp2fa.client(**{"Accept-Language": "en"})
    password_step(client, "demo", USER_PASSWORD)
    assert "ask again on this browser for 90 days" in client.last.text
    submit_code(client, code(secret, erp2fa), remember=True)
    assert client.cookie("td_id")
    client.post("/web/session/logout", from_page="/web")
    client.login("demo", USER_PASSWORD)  # trusted: no code asked
    assert client.path() == "/web"
    client.post("/web/session/logout", from_page="/web")

    with erp2fa.server.environment() as env:
        env.registry.settings.set(env.conn, "auth_totp.trusted_device_days", 0)
    client.login("demo", USER_PASSWORD)
    assert client.path() == "/web/login/totp"  # the trusted browser no longer counts
    assert "ask again" not in client.last.text and 'name="remember"' not in \
        client.last.text
    submit_code(client, code(secret, erp2fa, 1), remember=True)
    assert client.path() == "/web"
    with erp2fa.server.environment() as env:
        devices = env["auth_totp.device"].search([])
    assert len(devices) == 1  # none trusted while the feature is off
