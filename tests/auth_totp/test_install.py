"""Applications: installing auth_totp makes 2FA appear, uninstalling removes every trace."""

import re

import sqlalchemy as sa

from auth_totp import totp
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import activate_through_pages, password_step

TOTP_TABLES = {"auth_totp_device", "auth_totp_event", "auth_totp_recovery_code",
               "auth_totp_wizard"}
TOTP_COLUMNS = {"totp_secret", "totp_last_step", "totp_enabled_at", "totp_last_used"}


def schema(erp):
    with erp.server.engine.connect() as conn:
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        columns = {c["name"] for c in inspector.get_columns("res_users")}
    return tables, columns


def test_install_from_applications_then_uninstall(make_erp, backend):
    erp = make_erp(backend)
    admin = erp.client(**{"Accept-Language": "fr"})
    admin.login("admin", ADMIN_PASSWORD)
    apps = admin.get("/web/apps")
    card = re.search(r'data-addon="auth_totp".*?</li>', apps.text, re.S).group(0)
    assert "Two-Factor Authentication (TOTP)" in card
    assert 'src="/auth_totp/static/description/icon.svg"' in card
    assert "Ask for a 6-digit code" in card and "Installer" in card
    assert admin.get("/auth_totp/static/description/icon.svg").status_code == 200

    # the user's session started before the install: no restart, no new sign-in
    user = erp.client(**{"Accept-Language": "fr"})
    user.login("demo", USER_PASSWORD)
    assert "Authentification 2FA" not in user.get("/web/preferences").text

    admin.post("/web/apps/install", {"name": "auth_totp"}, from_page="/web/apps")
    assert admin.path() == "/web/apps?message=installed"
    tables, columns = schema(erp)
    assert tables >= TOTP_TABLES and columns >= TOTP_COLUMNS
    assert 'id="totp-enable"' in user.get("/web/preferences").text

    secret, codes = activate_through_pages(user, erp, USER_PASSWORD)
    erp.clock.advance(30)
    user.post("/web/session/logout", from_page="/web/preferences")
    password_step(user, "demo", USER_PASSWORD)  # the code is asked now

    admin.post("/web/apps/uninstall", {"name": "auth_totp"}, from_page="/web/apps")
    assert admin.path() == "/web/apps?message=uninstalled"
    tables, columns = schema(erp)
    assert not TOTP_TABLES & tables and not TOTP_COLUMNS & columns
    # the second factor is gone with the addon: password alone signs in again
    fresh = erp.client()
    fresh.login("demo", USER_PASSWORD)
    assert fresh.path() == "/web"
    assert fresh.get("/web/login/totp").status_code == 404
    assert "totp-section" not in fresh.get("/web/preferences").text
    assert "2FA" not in admin.get("/web/users").text
    if backend == "sqlite":
        erp.server.engine.dispose()
        raw = erp.server.config.sqlite_path.read_bytes()
        wal = erp.server.config.sqlite_path.with_name("erpcore.sqlite3-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        assert totp.to_base32(secret).encode() not in raw
        for code in codes:
            assert code.encode() not in raw and code.replace("-", "").encode() not in raw


def test_cli_install_is_served_without_restart(make_erp):
    """`erpcore module install` from another process; the running server follows."""
    import os
    import subprocess
    import sys

    erp = make_erp("sqlite")
    client = erp.client()
    client.login("demo", USER_PASSWORD)
    assert "totp-section" not in client.get("/web/preferences").text
    env = {**os.environ, "ERPCORE_PASSWORD_ROUNDS": "1000"}
    done = subprocess.run(
        [sys.executable, "-m", "erpcore", "--data-dir", str(erp.server.config.data_dir),
         "module", "install", "auth_totp"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "installed: auth_totp" in done.stdout
    assert "totp-section" in client.get("/web/preferences").text
