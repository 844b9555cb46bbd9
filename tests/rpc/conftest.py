"""Helpers of the external API tests: real clients (xmlrpc.client, JSON over requests)."""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa

from tests.support import ADMIN_PASSWORD, USER_PASSWORD

__all__ = ["ADMIN_PASSWORD", "USER_PASSWORD"]


def expected_database_name(erp) -> str:
    """What db.list must say, worked out from the configuration, not from the server."""
    if erp.backend == "sqlite":
        return "erpcore"  # erpcore.sqlite3 in the data directory
    return sa.engine.make_url(erp.server.config.db_url).database


@dataclass
class Api:
    """A script's view of a server: Python's own XML-RPC client, and JSON-RPC over HTTP."""

    url: str
    db: str

    def proxy(self, service: str) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/{service}", allow_none=True)

    def authenticate(self, login: str, secret: str):
        return self.proxy("common").authenticate(self.db, login, secret, {})

    def execute(self, uid, secret, model, method, *args, **kwargs):
        return self.proxy("object").execute_kw(self.db, uid, secret, model, method,
                                               list(args), kwargs)

    def fault(self, uid, secret, model, method, *args, **kwargs) -> xmlrpc.client.Fault:
        with pytest.raises(xmlrpc.client.Fault) as raised:
            self.execute(uid, secret, model, method, *args, **kwargs)
        return raised.value

    def json(self, service: str, method: str, *args, path: str = "/jsonrpc") -> dict:
        """The whole JSON-RPC answer (result or error) of one call."""
        body = {"jsonrpc": "2.0", "method": "call", "id": 7,
                "params": {"service": service, "method": method, "args": list(args)}}
        response = requests.post(self.url + path, json=body, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()


@pytest.fixture
def api(erp) -> Api:
    return Api(erp.url, expected_database_name(erp))


@pytest.fixture
def api2fa(erp2fa) -> Api:
    return Api(erp2fa.url, expected_database_name(erp2fa))


def make_key(erp, login: str, days: int | None = 30, name: str = "script") -> str:
    """A new API key of *login*, made as the pages and the command line make them."""
    with erp.server.environment() as env:
        user = env["res.users"].search([("login", "=", login)])
        _record, key = env["res.users.apikeys"]._generate(user, name, days=days,
                                                           now=erp.clock())
    return key


def uid_of(erp, login: str) -> int:
    with erp.server.environment() as env:
        return env["res.users"].search([("login", "=", login)]).id
