"""The external API of a real ``erpcore serve``, on SQLite (one process) and PostgreSQL
(two worker processes), with a key made by the real ``erpcore apikey`` command."""

from __future__ import annotations

import time
import xmlrpc.client
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa

from tests.rpc.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import enable_totp
from tests.workers.conftest import deployments
from tests.workers.processes import run_erpcore


@pytest.fixture
def deploy(templates, tmp_path):
    with deployments(templates, tmp_path) as make:
        yield make


@pytest.mark.parametrize(("backend", "workers"), [("sqlite", 0), ("postgresql", 2)])
def test_a_served_server_answers_scripts_and_refuses_the_password_of_a_2fa_user(
        deploy, backend, workers):
    deployment = deploy(backend, addons=("auth_totp",))
    process = deployment.start(workers=workers)
    config = deployment.config
    db = sa.engine.make_url(config.db_url).database if config.db_url else "erpcore"
    common = xmlrpc.client.ServerProxy(process.url + "/xmlrpc/2/common")
    models = xmlrpc.client.ServerProxy(process.url + "/xmlrpc/2/object")
    assert common.version()["protocol_version"] == 1
    assert xmlrpc.client.ServerProxy(process.url + "/xmlrpc/2/db").list() == [db]
    admin = common.authenticate(db, "admin", ADMIN_PASSWORD, {})
    found = models.execute_kw(db, admin, ADMIN_PASSWORD, "res.users", "search_read",
                              [["!", ["login", "=", "admin"]]], {"fields": ["login", "name"]})
    assert [(r["login"], r["name"]) for r in found] == [("demo", "Marc Demo")]
    demo = found[0]["id"]

    enable_totp(SimpleNamespace(server=deployment.server, clock=time.time), "demo")
    where = ["--data-dir", str(config.data_dir)] + (["--db", config.db_url] if config.db_url
                                                     else [])
    made = run_erpcore(*where, "apikey", "create", "demo", "--name", "served", "--days", "1")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert common.authenticate(db, "demo", USER_PASSWORD, {}) is False
    with pytest.raises(xmlrpc.client.Fault) as refused:
        models.execute_kw(db, demo, USER_PASSWORD, "res.users", "search", [[]])
    assert "must use an API key" in refused.value.faultString
    assert common.authenticate(db, "demo", key, {}) == demo
    for _ in range(4):  # every worker accepts it
        assert models.execute_kw(db, demo, key, "res.users", "search", [[]]) == [demo]
    answer = requests.post(process.url + "/jsonrpc", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [db, demo, key, "res.users", "read", [demo], {"fields": ["login"]}]}})
    assert answer.json()["result"] == [{"id": demo, "login": "demo"}]
    key_id = run_erpcore(*where, "apikey", "list", "demo").stdout.split("\n")[1].split()[0]
    assert run_erpcore(*where, "apikey", "revoke", key_id).returncode == 0
    assert common.authenticate(db, "demo", key, {}) is False

    deployment.stop()
    files = b"".join(path.read_bytes() for path in config.data_dir.parent.rglob("*")
                     if path.is_file())
    assert "used from 127.0.0.1" in process.output()  # the server's log is among the files
    assert process.log_path.read_bytes() in files
    assert key.encode() not in files and key[8:].encode() not in files
