"""API keys: the password alone never passes the second factor over RPC; keys do, and only there.

On SQLite and PostgreSQL, with auth_totp installed (``erp2fa``): a user with
2FA gets False from ``authenticate`` and a fault naming API keys from
``execute_kw`` with their right password, a stranger with a wrong one learns
nothing of it; keys work over XML-RPC and JSON-RPC, and are refused once
expired, revoked, or when their user is archived, and always on the sign-in
page. Keys are made in Préférences (password re-checked), shown once, listed,
revoked; administrators revoke anyone's on Utilisateurs; and the command line.
"""

from __future__ import annotations

import re
import xmlrpc.client

import pytest

from erpcore.cli.main import main
from tests.adversarial.test_secret_leakage import pg_dump_bytes
from tests.rpc.conftest import ADMIN_PASSWORD, USER_PASSWORD, make_key, uid_of
from tests.server.helpers import run_cli
from tests.support import table_dump
from tests.support_totp import code, enable_totp, password_step, submit_code

KEY_RE = re.compile(r'id="apikey-value">([0-9a-f]{48})<')
NEEDS_KEY = "must use an API key over the API"


def new_key_through_preferences(client, name: str = "nightly import",
                                duration: str = "30"):
    """Press Nouvelle clé API, fill the form, create: the answer page."""
    client.get("/web/preferences/apikeys/new")
    assert client.path() == "/web/preferences/apikeys/new", client.path()
    return client.post("/web/preferences/apikeys/new", {"name": name, "duration": duration})


def test_with_2fa_the_password_is_refused_over_rpc_and_a_key_is_accepted(api2fa, erp2fa):
    api, erp = api2fa, erp2fa
    demo = uid_of(erp, "demo")
    assert api.authenticate("demo", USER_PASSWORD) == demo  # 2FA off: the password works
    assert api.execute(demo, USER_PASSWORD, "res.users", "search", []) == [demo]
    enable_totp(erp, "demo")
    assert api.authenticate("demo", USER_PASSWORD) is False
    refused = api.fault(demo, USER_PASSWORD, "res.users", "search", [])
    assert refused.faultCode == 3 and NEEDS_KEY in refused.faultString
    # a wrong password is plainly wrong: only the owner learns that a key is needed
    wrong = api.fault(demo, "a-wrong-password", "res.users", "search", [])
    assert wrong.faultCode == 3 and NEEDS_KEY not in wrong.faultString
    key = make_key(erp, "demo")
    assert api.authenticate("demo", key) == demo
    assert api.execute(demo, key, "res.users", "read", [demo], fields=["login"]) == [
        {"id": demo, "login": "demo"}]
    # JSON-RPC says the same
    answer = api.json("object", "execute_kw", api.db, demo, USER_PASSWORD, "res.users",
                      "search", [[]])
    assert answer["error"]["data"]["name"] == "erpcore.exceptions.AccessDenied"
    assert NEEDS_KEY in answer["error"]["data"]["message"]
    assert api.json("common", "authenticate", api.db, "demo", USER_PASSWORD, {}) == {
        "jsonrpc": "2.0", "id": 7, "result": False}
    assert api.json("object", "execute_kw", api.db, demo, key, "res.users", "search",
                    [[]])["result"] == [demo]
    # a key read from a file keeps its newline: still the key
    assert api.authenticate("demo", key + "\n") == demo
    # another user's key is not this user's
    assert api.fault(uid_of(erp, "admin"), key, "res.users", "search", []).faultCode == 3


def test_expired_revoked_and_archived_keys_are_refused(api2fa, erp2fa):
    api, erp = api2fa, erp2fa
    demo = uid_of(erp, "demo")
    enable_totp(erp, "demo")
    short = make_key(erp, "demo", days=1, name="short")
    revoked = make_key(erp, "demo", days=90, name="to revoke")
    kept = make_key(erp, "demo", days=7, name="kept")
    assert api.authenticate("demo", short) == demo
    erp.clock.advance(86400 + 1)
    assert api.authenticate("demo", short) is False
    assert api.fault(demo, short, "res.users", "search", []).faultCode == 3
    with erp.server.environment() as env:
        victim = env["res.users.apikeys"].search([("name", "=", "to revoke")])
        assert victim._revoke(now=erp.clock(), actor_id=demo) == 1
        assert victim._revoke(now=erp.clock(), actor_id=demo) == 0  # once
    assert api.authenticate("demo", revoked) is False
    assert api.authenticate("demo", kept) == demo
    admin = api.authenticate("admin", ADMIN_PASSWORD)
    api.execute(admin, ADMIN_PASSWORD, "res.users", "write", [demo], {"active": False})
    assert api.authenticate("demo", kept) is False
    assert api.fault(demo, kept, "res.users", "search", []).faultCode == 3


def test_a_key_never_signs_in_through_the_pages(api, erp):
    key = make_key(erp, "demo")
    page = erp.client(**{"Accept-Language": "en"})
    response = page.login("demo", key)
    assert page.path().startswith("/web/login") and "Wrong login or password." in response.text
    answer = page.session.post(erp.url + "/web/session/authenticate", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1,
        "params": {"db": api.db, "login": "demo", "password": key}}).json()
    assert answer["error"]["data"]["name"] == "erpcore.exceptions.AccessDenied"
    assert page.get("/web").url.endswith("/web/login?redirect=%2Fweb")


def test_use_is_recorded_and_creation_and_revocation_audited(api, erp, captured_logs):
    demo = uid_of(erp, "demo")
    key = make_key(erp, "demo", name="nightly import")
    api.execute(demo, key, "res.users", "search", [])
    with erp.server.environment() as env:
        [row] = env["res.users.apikeys"].search([("user_id", "=", demo)])
        first_use = row.last_used
        assert row.last_used_ip == "127.0.0.1" and first_use
    erp.clock.advance(30)
    api.execute(demo, key, "res.users", "search", [])  # within a minute: not written again
    erp.clock.advance(60)
    api.execute(demo, key, "res.users", "search", [])
    with erp.server.environment() as env:
        row = env["res.users.apikeys"].browse(row.id)
        assert (row.last_used - first_use).total_seconds() == 90
        row._revoke(now=erp.clock(), actor_id=uid_of(erp, "admin"), ip="192.0.2.1")
        events = env["res.users.apikeys.event"].search([], order="id")
        assert [(e.event, e.key_name, e.user_id.id, e.actor_id.id) for e in events] == [
            ("created", "nightly import", demo, False),
            ("revoked", "nightly import", demo, uid_of(erp, "admin"))]
    assert api.authenticate("demo", key) is False
    log = captured_logs.text
    assert "apikey created" in log and "apikey revoked" in log and "used from" in log
    assert key not in log and key[8:] not in log


def test_the_key_is_in_no_file_of_the_data_directory_and_in_no_log(api2fa, erp2fa,
                                                                    captured_logs):
    api, erp = api2fa, erp2fa
    secret = enable_totp(erp, "demo")
    browser = erp.client(**{"Accept-Language": "en"})
    password_step(browser, "demo", USER_PASSWORD)
    submit_code(browser, code(secret, erp))
    shown = new_key_through_preferences(browser)
    key = KEY_RE.search(shown.text).group(1)
    uid = uid_of(erp, "demo")
    assert api.execute(uid, key, "res.users", "search_count", []) == 1
    assert api.json("object", "execute_kw", api.db, uid, key, "res.users", "search_count",
                    [[]])["result"] == 1
    erp.clock.advance(120)
    api.execute(uid, key, "res.users", "search", [])  # a second recorded use
    erp.server.dispose()  # SQLite: the write-ahead log checkpointed into the main file too
    blobs = b"".join(path.read_bytes() for path in erp.server.config.data_dir.rglob("*")
                     if path.is_file())
    if erp.backend == "sqlite":
        assert len(blobs) > 10_000  # the database files are among them
    else:  # the data directory holds the keyring; the database is PostgreSQL's
        blobs += pg_dump_bytes(erp)
    assert b"nightly import" in blobs  # the key's row is there, just not the key
    dump = repr(table_dump(erp.server)).encode()
    for haystack in (blobs, dump, captured_logs.text.encode()):
        assert key.encode() not in haystack and key[8:].encode() not in haystack
        assert key.upper().encode() not in haystack


def test_preferences_make_a_key_after_the_password_show_it_once_list_and_revoke(erp):
    client = erp.client(**{"Accept-Language": "fr"})
    client.login("demo", USER_PASSWORD)
    erp.clock.advance(601)  # the password was typed more than ten minutes ago
    client.get("/web/preferences/apikeys/new")
    assert client.path().startswith("/web/identity")
    client.post("/web/identity", {"password": USER_PASSWORD,
                                  "redirect": "/web/preferences/apikeys/new"})
    assert client.path() == "/web/preferences/apikeys/new"
    shown = client.post("/web/preferences/apikeys/new", {"name": "Import nocturne",
                                                         "duration": "7"})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    key = KEY_RE.search(shown.text).group(1)
    assert "Copiez cette clé maintenant" in shown.text
    preferences = client.get("/web/preferences")
    assert key not in preferences.text and key[:8] not in preferences.text
    section = re.search(r'<section class="card" id="apikeys-section".*?</section>',
                        preferences.text, re.S).group(0)
    assert "Clés API" in section and "Import nocturne" in section and "Jamais" in section
    key_id = re.search(r'data-key="(\d+)"', section).group(1)
    api_uid = uid_of(erp, "demo")
    proxy = xmlrpc.client.ServerProxy(erp.url + "/xmlrpc/2/object")
    assert proxy.execute_kw("erpcore" if erp.backend == "sqlite" else
                            erp.server.engine.url.database, api_uid, key, "res.users",
                            "search", [[]]) == [api_uid]
    last_use = re.search(r'title="Dernière utilisation">(.*?)</td>',
                         client.get("/web/preferences").text).group(1)
    assert last_use != "Jamais" and re.search(r"\d\d:\d\d", last_use)
    client.post(f"/web/preferences/apikeys/{key_id}/revoke", from_page="/web/preferences")
    assert client.path() == "/web/preferences?message=apikey_revoked"
    assert "La clé API est révoquée." in client.last.text and "Aucune clé API." in \
        client.last.text


def test_the_key_form_refuses_bad_input_and_changes_nothing(erp):
    client = erp.client()
    client.login("demo", USER_PASSWORD)  # Marc Demo reads French
    before = table_dump(erp.server)
    for name, duration, message in [
        ("import", "never", "Choisissez une durée dans la liste."),  # not an administrator
        ("import", "2", "Choisissez une durée dans la liste."),
        ("import", "", "Choisissez une durée dans la liste."),
        ("import", "٣٠", "Choisissez une durée dans la liste."),  # unicode digits
        ("import", "30" * 5000, "Choisissez une durée dans la liste."),
        ("", "30", "Décrivez la clé en 1 à 256 caractères."),
        ("   ", "30", "Décrivez la clé en 1 à 256 caractères."),
        ("x" * 10_000, "30", "Décrivez la clé en 1 à 256 caractères."),
    ]:
        client.get("/web/preferences/apikeys/new")
        response = client.post("/web/preferences/apikeys/new",
                               {"name": name, "duration": duration})
        assert response.status_code == 400, (name[:10], duration[:10])
        assert message in response.text
    forged = client.post("/web/preferences/apikeys/new", {"name": "x", "duration": "30"},
                         csrf="forged")
    assert forged.status_code == 403
    assert table_dump(erp.server) == before
    make_key(erp, "admin")
    with erp.server.environment() as env:
        admin_key_id = env["res.users.apikeys"].search([]).id
    before = table_dump(erp.server)
    refused = client.post(f"/web/preferences/apikeys/{admin_key_id}/revoke",
                          from_page="/web/preferences")
    assert refused.status_code == 404
    refused = client.post(f"/web/users/apikeys/{admin_key_id}/revoke",
                          from_page="/web/preferences")
    assert refused.status_code == 403
    assert table_dump(erp.server) == before


def test_administrators_choose_no_expiry_and_revoke_anyones_key(erp, api):
    make_key(erp, "demo", name="demo script")
    admin = erp.client(**{"Accept-Language": "en"})
    admin.login("admin", ADMIN_PASSWORD)
    form = admin.get("/web/preferences/apikeys/new")
    assert 'value="never"' in form.text
    shown = new_key_through_preferences(admin, "backup", "never")
    assert KEY_RE.search(shown.text)
    users = admin.get("/web/users")
    section = re.search(r'<section class="card" id="users-apikeys".*?</section>', users.text,
                        re.S).group(0)
    assert "demo script" in section and "backup" in section
    demo_row = re.search(r'<tr name="apikey_row" data-key="(\d+)">\s*<td>demo</td>', section)
    admin.post(f"/web/users/apikeys/{demo_row.group(1)}/revoke", from_page="/web/users")
    assert admin.path() == "/web/users?message=apikey_revoked"
    with erp.server.environment() as env:
        keys = env["res.users.apikeys"].search([])
        assert [(k.user_id.login, k.name, k.expires_at) for k in keys] == [
            ("admin", "backup", False)]
        [event] = env["res.users.apikeys.event"].search([("event", "=", "revoked")])
        assert (event.key_name, event.actor_id.login) == ("demo script", "admin")
    events = re.search(r'<table class="list" id="apikey-events">.*?</table>',
                       admin.get("/web/users").text, re.S).group(0)
    assert events.count("demo script") == 2  # made, revoked: the events outlive the key


@pytest.fixture
def cli_erp(make_erp):
    """A server the command line can reach: SQLite (its file is in the data directory)."""
    return make_erp("sqlite", addons=("auth_totp",))


def test_the_command_line_makes_lists_and_revokes_keys(cli_erp, capsys):
    erp = cli_erp
    data = erp.server.config.data_dir
    # the real command, in its own process: the key alone on standard output
    made = run_cli("apikey", "create", "demo", "--name", "robot", "--days", "7",
                   data_dir=data, addons=False)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and re.fullmatch(r"[0-9a-f]{48}", key)
    enable_totp(erp, "demo")
    proxy = xmlrpc.client.ServerProxy(erp.url + "/xmlrpc/2/common")
    assert proxy.authenticate("erpcore", "demo", key, {}) == uid_of(erp, "demo")

    def erpcore(*args: str) -> tuple[int, str, str]:  # the same entry point, in this process
        status = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return status, out, err

    status, listing, _ = erpcore("apikey", "list", "demo")
    assert status == 0 and "robot" in listing and key not in listing and key[:8] not in listing
    key_id = re.search(r"^\s+(\d+)\s+demo\s+robot\s", listing, re.M).group(1)
    for args, error in [
        (("apikey", "create", "nobody", "--name", "x"), "no user with login 'nobody'"),
        (("apikey", "create", "demo", "--name", "x", "--days", "0"),
         "A key lasts 1 to 3650 days."),
        (("apikey", "create", "demo", "--name", " "), "Describe the key in 1 to 256 characters."),
        (("apikey", "revoke", "99999"), "no API key with id 99999"),
        (("apikey", "list", "nobody"), "no user with login 'nobody'"),
    ]:
        assert erpcore(*args) == (1, "", f"erpcore: error: {error}\n")
    assert erpcore("apikey", "revoke", key_id) == (0, f"API key {key_id} revoked\n", "")
    assert proxy.authenticate("erpcore", "demo", key, {}) is False
    with erp.server.environment() as env:
        events = env["res.users.apikeys.event"].search([], order="id")
        assert [(e.event, e.actor_id.id) for e in events] == [("created", False),
                                                              ("revoked", False)]
