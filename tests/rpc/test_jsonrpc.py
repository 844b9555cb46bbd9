"""Odoo's JSON-RPC over HTTP (requests): /jsonrpc, version_info, and /web/session/authenticate.

The external API makes no session (no row, no cookie); only
``/web/session/authenticate`` signs a browser session in, for users without
a second factor, through the sign-in page's door and throttle.
"""

from __future__ import annotations

import re

import requests

import erpcore
from tests.rpc.conftest import ADMIN_PASSWORD, USER_PASSWORD, make_key, uid_of
from tests.support import count_rows
from tests.support_totp import enable_totp


def test_jsonrpc_speaks_the_services_of_xmlrpc(api, erp):
    assert api.json("common", "version")["result"]["server_version"] == erpcore.__version__
    assert api.json("db", "list") == {"jsonrpc": "2.0", "id": 7, "result": [api.db]}
    uid = api.json("common", "authenticate", api.db, "admin", ADMIN_PASSWORD, {})["result"]
    assert uid == uid_of(erp, "admin")
    rows = api.json("object", "execute_kw", api.db, uid, ADMIN_PASSWORD, "res.users",
                    "search_read", [["|", ["login", "=", "demo"], ["login", "=", "nobody"]]],
                    {"fields": ["login", "lang"]})["result"]
    assert rows == [{"id": uid_of(erp, "demo"), "login": "demo", "lang": "fr"}]
    answer = api.json("object", "execute", api.db, uid, ADMIN_PASSWORD, "res.users",
                      "search_count", [["login", "=", "demo"]])
    assert answer["result"] == 1
    refused = api.json("object", "execute_kw", api.db, uid, "wrong", "res.users", "search",
                       [[]])
    assert refused["error"]["code"] == 200
    assert refused["error"]["data"]["name"] == "erpcore.exceptions.AccessDenied"
    # the id comes back as it was sent, a string too
    response = requests.post(erp.url + "/jsonrpc", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": "call-1",
        "params": {"service": "db", "method": "server_version", "args": []}})
    assert response.json() == {"jsonrpc": "2.0", "id": "call-1", "result": erpcore.__version__}
    info = requests.post(erp.url + "/web/webclient/version_info", timeout=30,
                         json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1})
    assert info.json()["result"]["server_version_info"][:3] == [
        int(p) for p in erpcore.__version__.split(".")]


def test_the_api_makes_no_session(api, erp):
    sessions = count_rows(erp.server, "http_session")
    key = make_key(erp, "demo")
    demo = uid_of(erp, "demo")
    for secret in (USER_PASSWORD, key, "wrong"):
        response = requests.post(erp.url + "/jsonrpc", timeout=30, json={
            "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
                "service": "object", "method": "execute_kw",
                "args": [api.db, demo, secret, "res.users", "search", [[]]]}})
        assert "Set-Cookie" not in response.headers
    api.execute(demo, key, "res.users", "search", [])
    assert api.authenticate("demo", USER_PASSWORD) == demo
    assert count_rows(erp.server, "http_session") == sessions


def session_authenticate(erp, db: str, login: str, password: str,
                         session: requests.Session | None = None) -> requests.Response:
    session = session or requests.Session()
    return session.post(erp.url + "/web/session/authenticate", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1,
        "params": {"db": db, "login": login, "password": password}})


def test_session_authenticate_signs_a_browser_in_without_2fa_only(api2fa, erp2fa):
    api, erp = api2fa, erp2fa
    browser = requests.Session()
    answer = session_authenticate(erp, api.db, "admin", ADMIN_PASSWORD, browser).json()
    assert answer["result"]["uid"] == uid_of(erp, "admin")
    assert answer["result"]["is_admin"] is True and answer["result"]["db"] == api.db
    assert browser.cookies.get("session_id")
    home = browser.get(erp.url + "/web", timeout=30)
    assert home.url.endswith("/web") and "Administrator" in home.text
    # with 2FA on, the password alone signs nothing in: the page asks for the code
    enable_totp(erp, "demo")
    sessions = count_rows(erp.server, "http_session")
    other = requests.Session()
    refused = session_authenticate(erp, api.db, "demo", USER_PASSWORD, other).json()
    assert "second factor is required" in refused["error"]["message"]
    assert "session_id" not in other.cookies
    assert count_rows(erp.server, "http_session") == sessions
    assert other.get(erp.url + "/web", timeout=30).url.endswith("/web/login?redirect=%2Fweb")
    # wrong passwords are throttled as on the sign-in page
    for attempt in range(5):
        wrong = session_authenticate(erp, api.db, "admin", f"wrong-{attempt}").json()
        assert wrong["error"]["data"]["name"] == "erpcore.exceptions.AccessDenied"
    waiting = session_authenticate(erp, api.db, "admin", ADMIN_PASSWORD).json()
    assert re.search(r"try again in \d+ seconds", waiting["error"]["message"])


def test_session_authenticate_wants_json_so_no_other_site_can_sign_a_browser_in(api, erp):
    forged = requests.post(erp.url + "/web/session/authenticate", timeout=30,
                           data={"db": api.db, "login": "demo", "password": USER_PASSWORD})
    assert forged.status_code == 415 and "session_id" not in forged.cookies
    assert "application/json" in forged.json()["error"]["message"]
