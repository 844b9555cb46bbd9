"""Secrets stay where they belong: not in later pages, not in the database files, not in a dump.

The database holds the TOTP secret sealed (AES-GCM, key outside the
database), recovery codes, trusted-browser tokens and session ids as SHA-256
digests, passwords as pbkdf2 hashes, API keys as an index and a keyed hash.
So neither the SQLite files (main file, WAL and shared memory, free pages
included) nor ``pg_dump`` may show any of them, in any of the forms a leak
would take.
"""

from __future__ import annotations

import glob
import os
import subprocess
import xmlrpc.client

import pytest
import sqlalchemy as sa

from auth_totp import totp
from tests.adversarial.attack import half_signed_in, send_code, user_id
from tests.adversarial.conftest import APIKEY_RE
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import KEY_RE, WIZARD_RE, activate_through_pages, code


def forms_of(secret: bytes) -> list[bytes]:
    """The ways a TOTP secret could show up in bytes on disk or in a page."""
    b32 = totp.to_base32(secret)
    return [b32.encode(), b32.lower().encode(), totp.group(b32).encode(), secret,
            secret.hex().encode()]


def everything_handed_out(erp, handed_out):
    """Through the pages: activation, an abandoned activation, a trusted browser, sessions."""
    client = erp.client(**{"Accept-Language": "en"})
    client.login("demo", USER_PASSWORD)
    secret, recovery = activate_through_pages(client, erp, USER_PASSWORD)
    client.get("/web/preferences/apikeys/new")  # an API key, used once over XML-RPC
    apikey = APIKEY_RE.search(client.post("/web/preferences/apikeys/new", {
        "name": "script", "duration": "7"}).text).group(1)
    [database] = xmlrpc.client.ServerProxy(erp.url + "/xmlrpc/2/db").list()
    common = xmlrpc.client.ServerProxy(erp.url + "/xmlrpc/2/common")
    assert common.authenticate(database, "demo", apikey, {}) == user_id(erp, "demo")
    # the admin starts an activation and walks away: that pending secret counts too
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    abandoned = totp.from_base32(KEY_RE.search(admin.get("/auth_totp/setup").text)
                                 .group(1).replace(" ", ""))
    erp.clock.advance(30)
    browser = half_signed_in(erp)
    signed = send_code(browser, code(secret, erp), remember="1")
    token = signed.cookies["td_id"]
    sessions = [c.cookie("session_id") for c in (client, admin, browser)]
    assert all(sessions) and token
    return {"secret": secret, "abandoned": abandoned, "recovery": recovery, "token": token,
            "sessions": sessions, "client": client, "admin": admin, "apikey": apikey}


def needles(handed: dict) -> dict[str, list[bytes]]:
    found = {
        "TOTP secret": forms_of(handed["secret"]),
        "pending secret": forms_of(handed["abandoned"]),
        "recovery code": [c.encode() for c in handed["recovery"]]
        + [c.replace("-", "").encode() for c in handed["recovery"]],
        "trusted-browser token": [handed["token"].encode()],
        "session id": [s.encode() for s in handed["sessions"]],
        "password": [USER_PASSWORD.encode(), ADMIN_PASSWORD.encode()],
        "API key": [handed["apikey"].encode(), handed["apikey"][8:].encode()],
    }
    return found


def leaks(blob: bytes, handed: dict) -> list[str]:
    return [f"{kind}: {value[:12]!r}..." for kind, values in needles(handed).items()
            for value in values if value in blob]


def test_no_page_shows_the_secret_after_activation(erp2fa_sqlite, handed_out):
    erp = erp2fa_sqlite
    handed = everything_handed_out(erp, handed_out)
    secret_forms = [f.decode("latin-1") for f in forms_of(handed["secret"])[:3]]
    demo, admin = handed["client"], handed["admin"]
    pages = [demo.get(p) for p in ("/web", "/web/preferences", "/auth_totp/setup")]
    pages += [admin.get(p) for p in ("/web/users", "/auth_totp/audit", "/web/apps")]
    for page in pages:
        assert page.status_code == 200, page.url
        for form in secret_forms:
            assert form not in page.text, f"the secret is on {page.url}"
        assert "otpauth://" not in page.text and "secret=" not in page.text
    assert demo.path() == "/web/preferences"  # setup is closed once 2FA is on


def test_pages_that_show_secrets_are_never_cached(erp2fa_sqlite):
    erp = erp2fa_sqlite
    client = erp.client()
    client.login("demo", USER_PASSWORD)
    setup = client.get("/auth_totp/setup")
    assert KEY_RE.search(setup.text)
    # the QR code is a data: URI; no URL (that a proxy or a log could keep) holds the key
    assert 'src="data:image/png;base64,' in setup.text
    assert setup.headers["Cache-Control"] == "no-store"
    wizard = WIZARD_RE.search(setup.text).group(1)
    secret = totp.from_base32(KEY_RE.search(setup.text).group(1).replace(" ", ""))
    shown = client.post("/auth_totp/setup", {"wizard_id": wizard,
                                              "totp_token": code(secret, erp)})
    assert "recovery-codes" in shown.text
    assert shown.headers["Cache-Control"] == "no-store"


def sqlite_bytes(erp) -> bytes:
    base = str(erp.server.config.sqlite_path)
    return b"".join(open(path, "rb").read() for path in sorted(glob.glob(base + "*")))


def pg_dump_bytes(erp) -> bytes:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    if not binaries:
        pytest.skip("pg_dump is not installed")
    url = sa.engine.make_url(erp.server.config.db_url)
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    command = [binaries[-1], "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
               "-U", url.username or "postgres", "--no-owner", url.database]
    return subprocess.run(command, capture_output=True, check=True, env=env,
                          timeout=60).stdout


def test_the_database_files_and_a_dump_hold_no_secret(erp2fa, handed_out):
    erp = erp2fa
    handed = everything_handed_out(erp, handed_out)
    if erp.backend == "sqlite":
        blob = sqlite_bytes(erp)  # main file, WAL and shared memory, as they are now
        erp.server.dispose()  # and once the WAL is checkpointed into the main file
        blob += sqlite_bytes(erp)
    else:
        blob = pg_dump_bytes(erp)
    assert len(blob) > 10_000  # a real database, with users and sealed secrets in it
    assert b"v1$" in blob  # sealed values are there, just not readable
    assert leaks(blob, handed) == []
