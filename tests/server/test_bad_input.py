"""Bad input over HTTP: clean error pages, never a traceback, and nothing changed."""

from __future__ import annotations

import re
from types import SimpleNamespace

import requests

from erpcore.http import request as request_module
from tests.server.helpers import install
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, table_dump

TEN_MB = 10 * 1024 * 1024
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def assert_clean_page(response: requests.Response, code: int, title: str) -> None:
    assert response.status_code == code
    assert response.headers["Content-Type"].startswith("text/html")
    heading = re.search(r"<h1>(.*?)</h1>", response.text, re.DOTALL).group(1)
    assert str(code) in heading and title in heading
    for leak in ("Traceback", 'File "', "Error:", "erpcore/"):
        assert leak not in response.text


def test_errors_are_clean_pages_in_the_reader_language(addon_erp):
    install(addon_erp, "test_feature")
    english = addon_erp.client(**{"Accept-Language": "en"})
    assert_clean_page(english.get("/no/such/page"), 404, "Page not found")
    assert_clean_page(english.get("/web/users/abc/password"), 404, "Page not found")
    put = english.session.put(english.base + "/web/login", timeout=10)
    assert_clean_page(put, 405, "Method not allowed")
    assert set(put.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
    crash = english.get("/test_feature/crash")
    assert_clean_page(crash, 500, "Server error")
    assert "crash-secret-4242" not in crash.text

    demo = addon_erp.client()  # Marc Demo reads French, and is no administrator
    demo.login("demo", USER_PASSWORD)
    for url in ("/web/users", "/web/apps"):
        page = demo.get(url)
        assert_clean_page(page, 403, "Accès refusé")
        assert "pas accès à cette page." in page.text
    refused = demo.post("/web/apps/install", {"name": "test_mfa"}, from_page="/web")
    assert_clean_page(refused, 403, "Accès refusé")
    token = demo.csrf("/web/preferences")
    bad = demo.session.post(demo.base + "/web/preferences/save", headers=FORM, timeout=10,
                            data=f"csrf_token={token}&name=%FF%FE&lang=fr&tz=UTC")
    assert_clean_page(bad, 400, "Requête invalide")
    big = demo.session.post(demo.base + "/web/preferences/save", headers=FORM, timeout=30,
                            data=b"name=" + b"x" * TEN_MB)
    # refused by the HTTP server itself, before any of it reaches the application
    assert big.status_code == 413 and "Traceback" not in big.text


def test_malformed_huge_or_long_input_changes_nothing(erp):
    anonymous = erp.client(**{"Accept-Language": "en"})
    token = anonymous.csrf("/web/login")
    user = erp.client()
    user.login("demo", USER_PASSWORD)
    user_token = user.csrf("/web/preferences")
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    admin_token = admin.csrf("/web/users")
    before = table_dump(erp.server)

    def post(client, url: str, body: bytes, content_type: str = FORM["Content-Type"]):
        return client.session.post(client.base + url, data=body, timeout=30,
                                   headers={"Content-Type": content_type})

    login = f"csrf_token={token}&password=x&login=".encode()
    assert post(anonymous, "/web/login", login + b"%FF%FE%FD").status_code == 400
    assert post(anonymous, "/web/login", login + b"\xff\xfe raw bytes").status_code == 400
    assert post(anonymous, "/web/login", b"--x\r\ngarbage",
                "multipart/form-data; boundary=zz").status_code == 400
    assert post(anonymous, "/web/login", b"garbage", "multipart/form-data").status_code == 400
    assert post(anonymous, "/web/login", login + b"a" * TEN_MB).status_code == 413
    assert post(anonymous, "/web/login", b"%%%&&&==&=").status_code == 403  # no token in it
    assert post(anonymous, "/web/login", login + b"%00").status_code == 400  # no NUL in text
    long_login = anonymous.post("/web/login", {"login": "x" * 10_000, "password": "y"},
                                csrf=token)
    assert long_login.status_code == 200 and "Wrong login or password." in long_login.text
    user_form = f"csrf_token={user_token}&lang=fr&tz=UTC&email=&name=".encode()
    assert post(user, "/web/preferences/save", user_form + b"%C3%28").status_code == 400
    assert post(user, "/web/preferences/save", user_form + b"n" * 10_000).status_code == 400
    new_user = f"csrf_token={admin_token}&password=long-enough-pw&login=".encode()
    assert post(admin, "/web/users/create", new_user + b"l" * 10_000).status_code == 400
    assert post(admin, "/web/users/create", new_user + b"%80bob").status_code == 400
    for user_id in ("99999999999", "0", "2147483647"):  # beyond what a key holds, or none
        reset = admin.post(f"/web/users/{user_id}/password", {"password": "whatever-1"},
                           csrf=admin_token)
        assert reset.status_code == 404, user_id
    assert table_dump(erp.server) == before


def test_paths_are_matched_the_same_once_remembered_and_only_fixed_ones_are(erp):
    """The URL map's answers for fixed paths are kept per registry (a dict lookup
    instead of Werkzeug's matching); another method on a kept path is still refused,
    and paths with a variable part are matched each time, so strangers' paths do not
    pile up."""
    client = erp.client(**{"Accept-Language": "en"})
    for _ in range(2):
        assert client.get("/web/login").status_code == 200
        head = client.session.head(client.base + "/web/login", timeout=10)
        assert head.status_code == 200 and head.content == b""
        put = client.session.put(client.base + "/web/login", timeout=10)
        assert_clean_page(put, 405, "Method not allowed")
        assert set(put.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
        assert_clean_page(client.get("/web/login/nothing"), 404, "Page not found")
    for uid in range(1000, 1050):
        client.get(f"/web/users/{uid}/password")
    for n in range(20):  # "/" takes every method: any word a stranger sends
        client.session.request(f"ZZ{n}", client.base + "/", timeout=10, allow_redirects=False)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    for _ in range(2):  # a WebSocket request is refused, kept answer for the path or not
        refused = client.session.get(client.base + "/web/login", headers=upgrade, timeout=10)
        assert refused.status_code == 400
    with erp.server.engine.connect() as conn:
        kept = erp.server.registry(conn).static_matches
    assert ("/web/login", "GET") in kept
    assert ("/web/login", "PUT") not in kept
    assert not [path for path, _method in kept if path.startswith("/web/users/")]
    assert not [method for _path, method in kept if method.startswith("ZZ")]


def test_a_client_address_too_long_to_be_one_is_refused_before_it_is_kept():
    kept = request_module._address.cache_info().currsize
    for n in range(50):
        httprequest = SimpleNamespace(remote_addr=f"fe80::1%{'z' * 10_000}{n}")
        assert request_module.Request.remote_addr.fget(SimpleNamespace(
            httprequest=httprequest)) == ""
    assert request_module._address.cache_info().currsize == kept
