"""Access over the API is the pages' access: rights, record rules, groups; and no secret,
ever, whoever asks.

The secrets are found by reading the database directly (SQL), then looked
for in every answer an administrator can get from every model, so a field
forgotten by the deny rule would show up.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.rpc.conftest import ADMIN_PASSWORD, USER_PASSWORD, make_key, uid_of
from tests.support_totp import enable_totp

#: every field that holds a secret or a digest of one, by model (the contract)
SECRET_FIELDS = {
    "res.users": ["password", "totp_secret"],
    "res.users.apikeys": ["index", "key_hash"],
    "auth_totp.device": ["token_hash"],
    "auth_totp.recovery_code": ["code_hash"],
    "auth_totp.wizard": ["secret"],
}


def test_a_user_reads_their_own_record_an_administrator_every_one(api, erp):
    demo, admin = uid_of(erp, "demo"), uid_of(erp, "admin")
    assert api.execute(demo, USER_PASSWORD, "res.users", "search", []) == [demo]
    assert api.execute(demo, USER_PASSWORD, "res.users", "search_count", []) == 1
    assert api.execute(demo, USER_PASSWORD, "res.users", "search_read",
                       [["login", "=", "admin"]], fields=["login"]) == []
    [own] = api.execute(demo, USER_PASSWORD, "res.users", "read", [demo], fields=["login"])
    assert own == {"id": demo, "login": "demo"}
    for ids in ([admin], [demo, admin], [99999]):
        fault = api.fault(demo, USER_PASSWORD, "res.users", "read", ids, fields=["login"])
        assert fault.faultCode == 4 and "no such record, or you may not read it" \
            in fault.faultString
    # the same words for a record that does not exist: ids are not probed this way
    fault = api.fault(demo, USER_PASSWORD, "res.users", "write", [demo], {"name": "x"})
    assert fault.faultCode == 4
    assert api.fault(demo, USER_PASSWORD, "res.groups", "create", {"name": "x"}).faultCode == 4
    assert set(api.execute(admin, ADMIN_PASSWORD, "res.users", "search", [])) == {demo, admin}
    # a restricted field is refused to whoever is not in its group
    assert api.fault(demo, USER_PASSWORD, "res.users.apikeys.event", "search", []) \
        .faultCode == 4


def test_a_user_sees_their_own_api_keys_an_administrator_all(api, erp):
    demo, admin = uid_of(erp, "demo"), uid_of(erp, "admin")
    make_key(erp, "demo", name="demo's")
    make_key(erp, "admin", name="admin's")
    mine = api.execute(demo, USER_PASSWORD, "res.users.apikeys", "search_read", [],
                       fields=["name", "user_id"])
    assert [(k["name"], k["user_id"][0]) for k in mine] == [("demo's", demo)]
    everyone = api.execute(admin, ADMIN_PASSWORD, "res.users.apikeys", "search_read", [],
                           fields=["name"])
    assert {k["name"] for k in everyone} == {"demo's", "admin's"}
    assert api.fault(demo, USER_PASSWORD, "res.users.apikeys", "unlink",
                     [mine[0]["id"]]).faultCode == 4


def stored_secrets(erp) -> list[str]:
    """Every secret value the database holds, read with SQL (none may reach an answer)."""
    queries = ["SELECT password FROM res_users", "SELECT totp_secret FROM res_users",
               "SELECT token_hash FROM auth_totp_device",
               "SELECT code_hash FROM auth_totp_recovery_code",
               "SELECT secret FROM auth_totp_wizard",
               "SELECT index FROM res_users_apikeys", "SELECT key_hash FROM res_users_apikeys"]
    found = []
    with erp.server.engine.connect() as conn:
        for query in queries:
            found += [v for v in conn.exec_driver_sql(query.replace(
                "SELECT index", 'SELECT "index"')).scalars() if v]
    return found


def test_no_secret_and_no_hash_is_readable_not_even_by_an_administrator(api2fa, erp2fa):
    erp, api = erp2fa, api2fa
    enable_totp(erp, "demo")  # a TOTP secret, recovery codes
    enable_totp(erp, "admin")
    browser = erp.client()
    browser.login("admin", ADMIN_PASSWORD)
    browser.get("/auth_totp/setup")  # a pending activation (wizard)
    with erp.server.environment() as env:  # a trusted browser
        env["auth_totp.device"].trust(uid_of(erp, "demo"), user_agent="Firefox/1", ip="::1",
                                      now=erp.clock(), lifetime=3600)
    key = make_key(erp, "admin", days=None)
    secrets = stored_secrets(erp)
    assert len(secrets) >= 16  # 2 passwords, 2 TOTP secrets, 20 codes, a token, the key...
    admin = uid_of(erp, "admin")
    models = api.execute(admin, key, "ir.model", "search_read", [], fields=["model"])
    answers = []
    for model in sorted(m["model"] for m in models):
        readable = api.execute(admin, key, model, "check_access_rights", "read",
                               raise_exception=False)
        if readable:
            described = api.execute(admin, key, model, "fields_get")
            assert set(described) & set(SECRET_FIELDS.get(model, [])) == set(), model
            answers.append(api.execute(admin, key, model, "search_read", []))
        else:  # no access at all: not even the fields are described
            assert api.fault(admin, key, model, "fields_get").faultCode == 4
        for field in SECRET_FIELDS.get(model, []):
            for method, args, kwargs in (
                ("search_read", [[]], {"fields": [field]}),
                ("read", [[1]], {"fields": [field]}),
                ("search", [[[field, "like", "$"]]], {}),
                ("search", [["!", [field, "!=", False]]], {}),
                ("write", [[1], {field: "x"}], {}),
                ("create", [{field: "x"}], {}),
            ):
                fault = api.fault(admin, key, model, method, *args, **kwargs)
                assert fault.faultCode in (2, 4), (model, field, fault.faultString)
            assert api.fault(admin, key, model, "search", [], order=field).faultCode in (2, 4)
    blob = json.dumps(answers)
    assert '"login": "demo"' in blob and '"token_hash"' not in blob
    assert [s[:12] for s in secrets if s in blob] == []
    # the answers did read real rows: users, devices, keys
    assert {"res.users", "auth_totp.device", "res.users.apikeys"} <= {
        m["model"] for m in models}
    assert sum(len(a) for a in answers) >= 5


def test_secret_fields_are_refused_to_the_superuser_path_too(erp2fa):
    """The ORM's generic read never gives a secret out, even in a superuser environment."""
    with erp2fa.server.environment() as env:
        users = env["res.users"].sudo().search([])
        rows = users.read()
        assert rows and all("password" not in r and "totp_secret" not in r for r in rows)
        try:
            users.read(["password"])
        except Exception as exc:  # AccessError
            assert "never given out" in str(exc)
        else:
            raise AssertionError("read(['password']) gave the hash out")
        count = env.conn.execute(sa.text("SELECT count(*) FROM res_users")).scalar_one()
        assert len(rows) == count
