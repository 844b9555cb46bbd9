"""Bad input of every shape: a fault or a JSON-RPC error of one clear line, and nothing changed.

Every table, sessions and throttle counters included, is compared before and
after (``table_dump``): a refused call writes nothing, and no call of the
API makes a session. The calls authenticate with a right password (the
door's counters then end as they began), or not at all.
"""

from __future__ import annotations

import json
import time
import xmlrpc.client

import pytest
import requests

from tests.rpc.conftest import ADMIN_PASSWORD, uid_of
from tests.support import table_dump

XML = {"Content-Type": "text/xml"}


def xml_call(method: str, *params) -> bytes:
    return xmlrpc.client.dumps(params, method, allow_none=True).encode()


def post_xml(erp, body: bytes, service: str = "object", headers=XML) -> xmlrpc.client.Fault:
    """POST *body* as an XML-RPC call: it must be answered by a fault, parsed by the stdlib."""
    response = requests.post(f"{erp.url}/xmlrpc/2/{service}", data=body, headers=headers,
                             timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(response.content)
    assert_one_clean_line(fault.value.faultString)
    return fault.value


def assert_one_clean_line(message: str) -> None:
    assert message and "\n" not in message and len(message) <= 400, message
    for leak in ("Traceback", 'File "', "sqlalchemy", "SELECT ", "erpcore/"):
        assert leak not in message, message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<methodCall><methodName>version</methodName><params><param><value>&lol4;</value></param>
</params></methodCall>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>version</methodName><params><param><value>&passwd;</value></param>
</params></methodCall>"""


def nested(depth: int) -> bytes:
    value = b"<value><int>1</int></value>"
    for _ in range(depth):
        value = b"<value><array><data>" + value + b"</data></array></value>"
    return (b"<methodCall><methodName>version</methodName><params><param>" + value
            + b"</param></params></methodCall>")


def test_malformed_xml_rpc_is_a_fault_and_changes_nothing(erp):
    before = table_dump(erp.server)
    cases = {
        b"": "empty request",
        b"   ": "empty request",
        b"<methodCall>": "malformed XML-RPC request",
        b"<methodCall><methodName>x</methodName><params><param><value><int>one</int>"
        b"</value></param></params></methodCall>": "malformed XML-RPC request",
        b"<methodCall><methodName>x</methodName><params><param><value><int>"
        + b"9" * 5000 + b"</int></value></param></params></methodCall>":
            "malformed XML-RPC request",
        b"<methodResponse><params><param><value>1</value></param></params></methodResponse>":
            "not an XML-RPC methodCall",
        b"\xff\xfe<not xml at all": "malformed XML-RPC request",
        BILLION_LAUGHS: "DOCTYPE",
        EXTERNAL: "DOCTYPE",
        b'<!DOCTYPE methodCall SYSTEM "http://127.0.0.1:9/x.dtd"><methodCall><methodName>'
        b"version</methodName><params/></methodCall>": "DOCTYPE",
        nested(40): "nested more than 32 deep",
        nested(5000): "nested more than 32 deep",
    }
    for body, message in cases.items():
        started = time.monotonic()
        fault = post_xml(erp, body, "common")
        assert message in fault.faultString, (body[:60], fault.faultString)
        assert "root:" not in fault.faultString  # nothing of /etc/passwd comes back
        assert time.monotonic() - started < 5  # no entity expansion, no deep recursion
    form = post_xml(erp, xml_call("version"), "common",
                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert "Content-Type: text/xml" in form.faultString
    assert "unknown service" in post_xml(erp, xml_call("version"), "nothing").faultString
    assert "unknown method common.drop" in post_xml(erp, xml_call("drop"), "common").faultString
    assert "unknown method db.drop" in post_xml(erp, xml_call("drop", "x"), "db").faultString
    assert requests.get(f"{erp.url}/xmlrpc/2/common", timeout=30).status_code == 405
    too_big = requests.post(f"{erp.url}/xmlrpc/2/common", data=b"x" * (2 * 1024 * 1024),
                            headers=XML, timeout=30)
    assert too_big.status_code == 413  # refused by the HTTP server before the application
    assert table_dump(erp.server) == before


def test_wrong_arguments_are_faults_and_change_nothing(api, erp):
    uid, pw = uid_of(erp, "admin"), ADMIN_PASSWORD
    demo = uid_of(erp, "demo")
    obj = api.proxy("object")
    before = table_dump(erp.server)

    def fault(*params, method="execute_kw") -> xmlrpc.client.Fault:
        with pytest.raises(xmlrpc.client.Fault) as raised:
            getattr(obj, method)(*params)
        assert_one_clean_line(raised.value.faultString)
        return raised.value

    def call(model, method, args, kwargs=None) -> xmlrpc.client.Fault:
        return fault(api.db, uid, pw, model, method, args, kwargs or {})

    long = "x" * 10_000
    expected = [
        (fault(api.db, uid), "execute_kw takes (db, uid, password, model, method"),
        (fault(api.db, "1", pw, "res.users", "search", [[]], {}), "access denied"),
        (fault(api.db, "٣", pw, "res.users", "search", [[]], {}), "access denied"),
        (fault(api.db, uid, 12345, "res.users", "search", [[]], {}), "access denied"),
        (fault(api.db, uid, long, "res.users", "search", [[]], {}), "access denied"),
        (fault(long, uid, pw, "res.users", "search", [[]], {}), "no database"),
        (call("res.nothing", "search", [[]]), "unknown model 'res.nothing'"),
        (call(long, "search", [[]]), "unknown model"),
        (call("res.users", "sudo", []), "unknown method res.users.sudo"),
        (call("res.users", "_sign_in_check", ["admin", pw]), "unknown method"),
        (call("res.users", "__class__", []), "unknown method"),
        (call("res.groups", "context_get", []), "unknown method res.groups.context_get"),
        (fault(api.db, uid, pw, "res.users", "search", "not a list", {}), "args is a list"),
        (fault(api.db, uid, pw, "res.users", "search", [[]], ["x"]), "kwargs is a struct"),
        (call("res.users", "search", [[]], {"context": "fr"}), "context is a struct"),
        (call("res.users", "search", [[]], {"colour": "blue"}), "search takes (domain"),
        (call("res.users", "search", []), "search takes (domain"),
        (call("res.users", "search", ["login = admin"]), "a domain is a list"),
        (call("res.users", "search", [[["login", "="]]]), "neither a leaf"),
        (call("res.users", "search", [["&", ["login", "=", "a"]]]), "needs two operands"),
        (call("res.users", "search", [["!"]]), "needs an operand"),
        (call("res.users", "search", [["|", "|"]]), "needs two operands"),
        (call("res.users", "search", [[["login", "~", "a"]]]), "unknown domain operator"),
        (call("res.users", "search", [[["login", "=", "a"], 42]]), "neither a leaf"),
        (call("res.users", "search", [[["nothing", "=", 1]]]), "unknown field res.users"),
        (call("res.users", "search", [[[long, "=", 1]]]), "unknown field"),
        (call("res.users", "search", [[["login", "=", ["a"]]]]), "is not a text"),
        (call("res.users", "search", [[["id", "=", "1"]]]), "is not an integer"),
        (call("res.users", "search", [[["id", "in", 1]]]), "the value is a list"),
        (call("res.users", "search", [[["id", "in", list(range(20_000))]]]),
         "at most 10000 values"),
        (call("res.users", "search", [[["active", "=", "yes"]]]), "is not true or false"),
        (call("res.users", "search", [[["login_date", ">", "yesterday"]]]),
         "is not a date and time"),
        (call("res.users", "search", [[["login", "like", 3]]]), "the value is a string"),
        (call("res.users", "search", [[["login", "<", False]]]), "compares with = and !="),
        (call("res.users", "search", [["|"] * 300 + [["id", "=", 1]] * 301]),
         "at most 500 elements"),
        (call("res.users", "search", [[]], {"limit": -1}), "limit is a whole number"),
        (call("res.users", "search", [[]], {"limit": "ten"}), "limit is a whole number"),
        (call("res.users", "search", [[]], {"offset": -5}), "offset is a whole number"),
        (call("res.users", "search", [[]], {"order": "login; DROP TABLE res_users"}),
         "cannot order res.users by"),
        (call("res.users", "search", [[]], {"order": "login sideways"}), "an order is"),
        (call("res.users", "search", [[]], {"order": long}), "order is a text"),
        (call("res.users", "read", ["1"]), "ids are a list of record ids"),
        (call("res.users", "read", [[1.5]]), "ids are a list of record ids"),
        (call("res.users", "read", [[True]]), "ids are a list of record ids"),
        (call("res.users", "read", [list(range(1, 20_002))]), "at most 10000 ids"),
        (call("res.users", "read", [[demo]], {"fields": "login"}), "fields is a list"),
        (call("res.users", "read", [[demo]], {"fields": ["nothing"]}), "unknown field"),
        (call("res.users", "create", [{}]), "the values are a struct"),
        (call("res.users", "create", [[]]), "a list of 1 to 1000"),
        (call("res.groups", "create", [[{"name": "x"}] * 1001]), "a list of 1 to 1000"),
        (call("res.users", "create", [{"login": 7, "name": "x"}]), "res.users.login is a text"),
        (call("res.users", "create", [{"login": long, "name": "x"}]),
         "A login is 1 to 128 characters"),
        (call("res.users", "create", [{"login": "new", "name": "x" * 200_000}]),
         "at most 100000 characters"),
        (call("res.users", "create", [{"login": "new", "name": "x", "lang": "xx"}]),
         "not a valid choice"),
        (call("res.users", "create", [{"login": "new", "name": "x", "active": "no"}]),
         "is true or false"),
        (call("res.users", "create", [{"login": "new", "name": "x", "group_ids": [999]}]),
         "no res.groups record 999"),
        (call("res.users", "create", [{"login": "new", "name": "x", "group_ids": [[4, 1]]}]),
         "only the command (6, 0, ids)"),
        (call("res.users", "create", [{"login": "admin", "name": "x"}]),
         "This login is already used."),
        (call("res.users", "create", [{"login": "new"}]), "Name is required"),
        (call("res.users", "write", [[demo], {"login_date": "31/12/2024"}]),
         "is a date and time"),
        (call("res.users", "write", [[demo], {"id": 5}]), "is read only"),
        (call("res.users", "write", [[99999], {"name": "x"}]), "no such record"),
        (call("res.users", "unlink", [[demo]]), "you may not unlink"),
        (call("res.users", "check_access_rights", ["drop"]), "operation is one of"),
    ]
    for raised, message in expected:
        assert message in raised.faultString, (message, raised.faultString)
    # integers beyond 32 bits, which Python's client cannot send, as another client would
    for value, message in [(2**31 + 5, "no such record"), (2**63 + 1, "out of range")]:
        body = xml_call("execute_kw", api.db, uid, pw, "res.users", "read", ["IDS"]).replace(
            b"<string>IDS</string>", f"<i8>{value}</i8>".encode())
        assert message in post_xml(erp, body).faultString
    assert table_dump(erp.server) == before


def post_json(erp, body, path: str = "/jsonrpc", content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(erp.url + path, data=data, headers={"Content-Type": content_type},
                         timeout=30)


def test_malformed_json_rpc_is_an_error_and_changes_nothing(api, erp):
    before = table_dump(erp.server)
    call = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": "common", "method": "version", "args": []}}

    def error(body, code, message, path="/jsonrpc", status=200, **kw) -> None:
        response = post_json(erp, body, path, **kw)
        assert response.status_code == status, response.text
        answer = response.json()
        assert answer["jsonrpc"] == "2.0" and "result" not in answer, answer
        assert answer["error"]["code"] == code, answer
        assert message in answer["error"]["message"], answer
        assert answer["error"]["data"]["message"] == answer["error"]["message"]
        assert_one_clean_line(answer["error"]["message"])

    error(b"{", -32700, "malformed JSON")
    error(b"\xff\xfe{}", -32700, "malformed JSON")
    error(b'{"jsonrpc": "2.0", "method": "call", "params": {"x": NaN}}', -32700,
          "malformed JSON")
    error(b"[" * 100_000 + b"]" * 100_000, -32700, "malformed JSON")
    error([call, call], -32600, "batch requests are not supported")
    error({**call, "jsonrpc": "1.0"}, -32600, "not a JSON-RPC 2.0 request")
    error("just a string", -32600, "not a JSON-RPC 2.0 request")
    error({**call, "id": {"an": "object"}}, -32600, "the id is a number")
    error({**call, "method": "execute"}, -32601, 'the method is "call"')
    error({**call, "params": [1, 2]}, -32602, "params is an object")
    error(call, -32600, "Content-Type: application/json", status=415,
          content_type="text/plain")
    error(call, -32600, "Content-Type: application/json", status=415,
          content_type="application/x-www-form-urlencoded")
    params = call["params"]
    error({**call, "params": {**params, "service": "nothing"}}, 200, "params.service is one of")
    error({**call, "params": {**params, "method": "nothing"}}, 200, "unknown method common")
    error({**call, "params": {**params, "args": "x"}}, 200, "args is a list")
    error({**call, "params": {**params, "args": [1]}}, 200, "common.version takes ()")
    authenticate = {**params, "method": "authenticate"}
    for args, message in [
        ([api.db, "admin\x00", ADMIN_PASSWORD, {}], "NUL character"),
        ([api.db, "admin", "\ud800", {}], "lone surrogates"),
        ([api.db, "admin", ADMIN_PASSWORD, 2**70], "out of range"),
        ([api.db, 1.5, ADMIN_PASSWORD, {}], "the login and the password are texts"),
        ([api.db, "admin", ADMIN_PASSWORD, "env"], "user_agent_env is a struct"),
    ]:
        error({**call, "params": {**authenticate, "args": args}}, 200, message)
    deep: list = [1]
    for _ in range(40):
        deep = [deep]
    error({**call, "params": {**params, "args": deep}}, 200, "nested more than 32 deep")
    error({"jsonrpc": "2.0", "method": "call", "id": 2, "params": {"login": "admin"}}, 200,
          "no database", path="/web/session/authenticate")
    assert table_dump(erp.server) == before
