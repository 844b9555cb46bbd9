"""The secret: sealed in the database, never shown after setup, still working after rotation."""

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from auth_totp import totp
from tests.support import USER_PASSWORD, count_rows, pg_base_url
from tests.support_totp import activate_through_pages, code, password_step, submit_code


def pg_dump_binary() -> str | None:
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    return str(candidates[-1]) if candidates else None


def database_bytes(erp) -> bytes:
    if erp.backend == "sqlite":
        erp.server.engine.dispose()
        path = erp.server.config.sqlite_path
        data = path.read_bytes()
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if extra.exists():
                data += extra.read_bytes()
        return data
    binary = pg_dump_binary()
    if binary is None:
        pytest.fail("pg_dump is needed to check the PostgreSQL dump")
    url = sa.engine.make_url(erp.server.config.db_url)
    dump = subprocess.run([binary, "-h", url.host, "-p", str(url.port), "-U", url.username,
                           url.database], capture_output=True, timeout=120, check=True)
    return dump.stdout


def test_secret_never_leaves_the_setup_page(erp2fa, caplog):
    caplog.set_level(logging.DEBUG)
    client = erp2fa.client(**{"Accept-Language": "fr"})
    client.login("demo", USER_PASSWORD)
    secret, codes = activate_through_pages(client, erp2fa, USER_PASSWORD)
    b32 = totp.to_base32(secret)
    grouped = totp.group(b32)
    pages = [client.get(path).text for path in ("/web/preferences", "/web", "/web/nope",
                                                "/auth_totp/setup")]
    erp2fa.clock.advance(30)
    client.post("/web/session/logout", from_page="/web")
    pages.append(password_step(client, "demo", USER_PASSWORD).text)
    pages.append(submit_code(client, "000000").text)
    pages.append(submit_code(client, "x" * 5000).text)
    submit_code(client, code(secret, erp2fa))
    assert client.path() == "/web"
    for text in pages:
        assert b32 not in text and grouped not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert b32 not in logged and grouped not in logged
    assert not any(c in logged for c in codes)
    data = database_bytes(erp2fa)
    assert b32.encode() not in data and secret not in data
    assert not any(c.encode() in data or c.replace("-", "").encode() in data for c in codes)


def test_codes_work_after_key_rotation(erp2fa):
    client = erp2fa.client()
    client.login("demo", USER_PASSWORD)
    secret, _codes = activate_through_pages(client, erp2fa, USER_PASSWORD)
    with erp2fa.server.engine.connect() as conn:
        before = conn.exec_driver_sql(
            "SELECT totp_secret FROM res_users WHERE totp_secret IS NOT NULL").scalar_one()
    env = dict(os.environ)
    command = [sys.executable, "-m", "erpcore", "--data-dir", str(erp2fa.server.config.data_dir)]
    if pg_base_url() and erp2fa.backend == "postgresql":
        command += ["--db", erp2fa.server.config.db_url]
    done = subprocess.run([*command, "keys", "rotate"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    with erp2fa.server.engine.connect() as conn:
        after = conn.exec_driver_sql(
            "SELECT totp_secret FROM res_users WHERE totp_secret IS NOT NULL").scalar_one()
    new_kid = after.split("$")[1]
    assert f"new primary key {new_kid}; 1 values re-encrypted" in done.stdout
    assert before.split("$")[1] == erp2fa.server.keyring.primary != new_kid
    erp2fa.clock.advance(30)
    client.post("/web/session/logout", from_page="/web")
    password_step(client, "demo", USER_PASSWORD)
    submit_code(client, code(secret, erp2fa))  # the running server reloads the keyring
    assert client.path() == "/web"


def test_a_secret_that_does_not_open_fails_closed(make_erp, caplog):
    """Keyring replaced or lost: the code is still asked, cannot pass, and is not counted as a
    failure (it is not the user's); the log says why; recovery codes work."""
    from erpcore.keys import Keyring
    from tests.support_totp import enable_totp, error_text, recovery_codes_for

    erp = make_erp("sqlite", addons=("auth_totp",))
    secret = enable_totp(erp, "demo")
    codes = recovery_codes_for(erp, "demo")
    with erp.server.environment() as env:  # seal the secret with a key the server lacks
        user = env["res.users"].search([("login", "=", "demo")])
        aad = env._associated_data(user, user._fields["totp_secret"])
        foreign = Keyring.generate().seal(totp.to_base32(secret), aad)
        env.conn.execute(sa.text("UPDATE res_users SET totp_secret = :v WHERE id = :i"),
                         {"v": foreign, "i": user.id})
    client = erp.client(**{"Accept-Language": "fr"})
    password_step(client, "demo", USER_PASSWORD)
    for _ in range(6):  # more than the throttle's limit: none is counted
        refused = submit_code(client, code(secret, erp))
        assert refused.status_code == 503
        assert error_text(refused) == (
            "Votre code ne peut pas être vérifié pour le moment. Connectez-vous avec l'un de "
            "vos codes de récupération, ou adressez-vous à votre administrateur.")
    assert count_rows(erp.server, "ir_throttle") == 0
    assert "does not open with the server's keys" in caplog.text
    assert any(r.levelname == "ERROR" and "TOTP secret" in r.getMessage()
               for r in caplog.records)
    submit_code(client, codes[0])
    assert client.path() == "/web"
