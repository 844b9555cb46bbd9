"""Odoo's XML-RPC, spoken by Python's own client: version, databases, sign-in, models.

Every test runs on SQLite and on PostgreSQL (the ``erp`` fixture). Searches
are checked against an independent evaluation of the same domain in Python
over every record read back, so a wrong operator or a wrong precedence of
``&``, ``|`` and ``!`` fails.
"""

from __future__ import annotations

import xmlrpc.client
import zlib

import pytest

import erpcore
from tests.rpc.conftest import ADMIN_PASSWORD, USER_PASSWORD, uid_of


def test_version_and_the_database_list(api):
    common = api.proxy("common")
    version = common.version()
    assert version["server_version"] == erpcore.__version__
    assert version["protocol_version"] == 1
    assert version["server_version_info"][:3] == [int(p) for p in erpcore.__version__.split(".")]
    db = api.proxy("db")
    assert db.list() == [api.db]
    assert db.server_version() == erpcore.__version__


def test_authenticate_gives_the_uid_or_false(api, erp):
    assert api.authenticate("admin", ADMIN_PASSWORD) == uid_of(erp, "admin")
    assert api.authenticate("demo", USER_PASSWORD) == uid_of(erp, "demo")
    assert api.proxy("common").login(api.db, "demo", USER_PASSWORD) == uid_of(erp, "demo")
    assert api.authenticate("demo", "not-the-password") is False
    assert api.authenticate("nobody", USER_PASSWORD) is False
    assert api.authenticate("", "") is False
    with pytest.raises(xmlrpc.client.Fault) as wrong_db:
        api.proxy("common").authenticate("no_such_db", "admin", ADMIN_PASSWORD, {})
    assert wrong_db.value.faultCode == 3
    assert f"db.list gives '{api.db}'" in wrong_db.value.faultString


# -- domains -------------------------------------------------------------------------------

PEOPLE = [("marie", "Marie Curie", "fr"), ("paul", "Paul Langevin", "en"),
          ("irene", "Irène Joliot", "fr"), ("pierre", "Pierre Curie", "en")]


def matches(record: dict, domain: list) -> bool:
    """An independent reading of an Odoo domain, in Python (prefix notation, implicit &)."""
    def leaf(field, op, value):
        actual = record[field]
        if op == "=":
            return actual == value
        if op == "!=":
            return actual != value
        if op == "in":
            return actual in value
        if op == "not in":
            return actual not in value
        if op == "like":
            return value in actual
        if op == "ilike":
            return value.lower() in actual.lower()
        return {"<": actual < value, "<=": actual <= value, ">": actual > value,
                ">=": actual >= value}[op]

    def parse(position: int) -> tuple[bool, int]:
        element = domain[position]
        if element == "!":
            value, end = parse(position + 1)
            return not value, end
        if element in ("&", "|"):
            left, middle = parse(position + 1)
            right, end = parse(middle)
            return (left and right) if element == "&" else (left or right), end
        return leaf(*element), position + 1

    position, result = 0, True
    while position < len(domain):
        value, position = parse(position)
        result = result and value
    return result


DOMAINS = [
    [["login", "=", "marie"]],
    [["login", "!=", "marie"]],
    [["login", "in", ["marie", "paul", "nobody"]]],
    [["login", "not in", ["marie", "paul"]]],
    [["name", "like", "Curie"]],
    [["name", "like", "curie"]],
    [["name", "ilike", "curie"]],
    [["login", "<", "p"]],
    [["login", "<=", "paul"]],
    [["login", ">", "paul"]],
    [["login", ">=", "paul"]],
    ["|", ["login", "=", "marie"], ["login", "=", "paul"]],
    ["&", ["name", "ilike", "curie"], ["lang", "=", "fr"]],
    ["!", ["lang", "=", "fr"]],
    ["|", "&", ["lang", "=", "fr"], ["name", "ilike", "curie"], ["login", "=", "paul"]],
    ["&", ["lang", "=", "fr"], "|", ["name", "ilike", "curie"], ["login", "=", "irene"]],
    [["lang", "=", "fr"], "!", "|", ["login", "=", "marie"], ["login", "=", "admin"]],
    ["!", "!", ["login", "=", "demo"]],
]


def test_execute_kw_searches_with_odoo_domains(api, erp):
    uid = api.authenticate("admin", ADMIN_PASSWORD)
    group = api.execute(uid, ADMIN_PASSWORD, "res.groups", "search",
                        [["name", "=", "Internal User"]])
    ids = api.execute(uid, ADMIN_PASSWORD, "res.users", "create", [
        {"login": login, "name": name, "lang": lang, "group_ids": [[6, 0, group]]}
        for login, name, lang in PEOPLE])
    assert len(ids) == 4 and all(isinstance(i, int) for i in ids)
    records = api.execute(uid, ADMIN_PASSWORD, "res.users", "search_read", [],
                          fields=["login", "name", "lang"])
    assert {r["login"] for r in records} == {"admin", "demo", *(p[0] for p in PEOPLE)}
    for domain in DOMAINS:
        expected = {r["id"] for r in records if matches(r, domain)}
        found = api.execute(uid, ADMIN_PASSWORD, "res.users", "search", domain)
        assert set(found) == expected, domain
        assert api.execute(uid, ADMIN_PASSWORD, "res.users", "search_count", domain) \
            == len(expected), domain
    # numbers compare as numbers, and ids too
    assert set(api.execute(uid, ADMIN_PASSWORD, "res.users", "search",
                           [["id", ">=", ids[2]]])) == set(ids[2:])
    # order, limit, offset, count
    ordered = api.execute(uid, ADMIN_PASSWORD, "res.users", "search", [],
                          order="login desc", limit=3, offset=1)
    logins = sorted((r["login"] for r in records), reverse=True)
    by_login = {r["login"]: r["id"] for r in records}
    assert ordered == [by_login[login] for login in logins[1:4]]
    assert api.execute(uid, ADMIN_PASSWORD, "res.users", "search",
                       [["lang", "=", "fr"]], count=True) == \
        len([r for r in records if r["lang"] == "fr"])


def test_read_search_read_and_fields_get_give_what_odoo_gives(api, erp):
    uid = api.authenticate("admin", ADMIN_PASSWORD)
    demo = uid_of(erp, "demo")
    [row] = api.execute(uid, ADMIN_PASSWORD, "res.users", "read", [demo],
                        fields=["login", "email", "group_ids", "login_date", "active"])
    assert row == {"id": demo, "login": "demo", "email": "demo@example.com",
                   "group_ids": row["group_ids"], "login_date": False, "active": True}
    assert len(row["group_ids"]) == 1
    # a Many2one reads as [id, name]
    key_owner = api.execute(uid, ADMIN_PASSWORD, "res.users.apikeys", "fields_get",
                            attributes=["type", "relation"])["user_id"]
    assert key_owner == {"type": "many2one", "relation": "res.users"}
    # after a sign-in, the date reads as Odoo writes it: "YYYY-MM-DD HH:MM:SS", UTC
    erp.client().login("demo", USER_PASSWORD)
    [signed] = api.execute(uid, ADMIN_PASSWORD, "res.users", "search_read",
                           [["login", "=", "demo"]], fields=["login_date"])
    assert len(signed["login_date"]) == 19 and signed["login_date"][10] == " "
    described = api.execute(uid, ADMIN_PASSWORD, "res.users", "fields_get")
    assert described["login"]["type"] == "char" and described["login"]["required"] is True
    assert described["lang"]["type"] == "selection"
    assert ["fr", "Français"] in described["lang"]["selection"]
    assert described["group_ids"] == {**described["group_ids"], "type": "many2many",
                                      "relation": "res.groups"}
    assert "password" not in described


def test_create_write_unlink_through_the_api(api):
    uid = api.authenticate("admin", ADMIN_PASSWORD)
    group = api.execute(uid, ADMIN_PASSWORD, "res.groups", "create", {"name": "Sales"})
    assert api.execute(uid, ADMIN_PASSWORD, "res.groups", "write", [group],
                       {"name": "Sales team"}) is True
    assert api.execute(uid, ADMIN_PASSWORD, "res.groups", "read", [group], fields=["name"]) \
        == [{"id": group, "name": "Sales team"}]
    assert api.execute(uid, ADMIN_PASSWORD, "res.groups", "unlink", [group]) is True
    assert api.execute(uid, ADMIN_PASSWORD, "res.groups", "search", [["id", "=", group]]) == []


def test_ir_model_lists_the_installed_models(api):
    uid = api.authenticate("demo", USER_PASSWORD)
    found = api.execute(uid, USER_PASSWORD, "ir.model", "search_read",
                        [["model", "like", "res.users"]], fields=["model", "name"])
    assert {row["model"] for row in found} == {"res.users", "res.users.apikeys",
                                               "res.users.apikeys.event"}
    everything = api.execute(uid, USER_PASSWORD, "ir.model", "search_read", [],
                             fields=["model"])
    assert {"res.users", "res.groups", "ir.model"} <= {r["model"] for r in everything}
    assert "auth_totp.device" not in {r["model"] for r in everything}  # not installed here
    # ids are stable: derived from the model's name
    for row in everything:
        assert row["id"] == zlib.crc32(row["model"].encode()) & 0x7FFFFFFF
    fault = api.fault(uid, USER_PASSWORD, "ir.model", "write", [everything[0]["id"]],
                      {"name": "x"})
    assert fault.faultCode == 4


def test_execute_context_get_and_check_access_rights(api, erp):
    uid = api.authenticate("demo", USER_PASSWORD)
    assert api.execute(uid, USER_PASSWORD, "res.users", "context_get") == {
        "lang": "fr", "tz": "Europe/Paris", "uid": uid}
    assert api.execute(uid, USER_PASSWORD, "res.users", "check_access_rights", "read") is True
    assert api.execute(uid, USER_PASSWORD, "res.users", "check_access_rights", "write",
                       raise_exception=False) is False
    fault = api.fault(uid, USER_PASSWORD, "res.users", "check_access_rights", "write")
    assert fault.faultCode == 4
    # execute: Odoo's older form, arguments after the method name
    obj = api.proxy("object")
    assert obj.execute(api.db, uid, USER_PASSWORD, "res.users", "search",
                       [["login", "=", "demo"]]) == [uid]
