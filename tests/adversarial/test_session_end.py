"""Ending a session is final: no request in flight, no half-signed-in state brings it back."""

import requests

from erpcore.http.session import SessionStore
from tests.support import ADMIN_PASSWORD, USER_PASSWORD, count_rows
from tests.support_totp import code, enable_totp, password_step, submit_code


def test_a_request_in_flight_does_not_revive_a_session_ended_elsewhere(erp2fa):
    """A thief's request loaded the session; meanwhile the victim changed the password."""
    client = erp2fa.client()
    client.login("demo", USER_PASSWORD)
    sid = client.cookie("session_id")
    store = SessionStore(erp2fa.server.config.session_lifetime, 600)
    with erp2fa.server.transaction() as conn:
        _sequences, in_flight, _user = store.open(conn, sid, erp2fa.clock())
    with erp2fa.server.environment() as env:  # the victim's password change, elsewhere
        env["res.users"].search([("login", "=", "demo")]).write({"password": "new-pass-123"})
    in_flight["touched_at"] = erp2fa.clock()  # the request modifies it, then saves
    with erp2fa.server.transaction() as conn:
        store.save(conn, in_flight, erp2fa.clock())
    assert count_rows(erp2fa.server, "http_session", "WHERE uid IS NOT NULL") == 0
    assert client.get("/web").url.endswith("/web/login?redirect=%2Fweb")


def test_a_password_reset_ends_a_session_waiting_for_its_code(erp2fa):
    """Incident response: the administrator resets the password and turns 2FA off; the
    attacker who was sitting on the code page with the old password gets nothing."""
    enable_totp(erp2fa, "demo")
    attacker = erp2fa.client()
    password_step(attacker, "demo", USER_PASSWORD)
    with erp2fa.server.environment() as env:
        demo = env["res.users"].search([("login", "=", "demo")])
        demo.write({"password": "reset-by-admin-1"})
        demo._totp_disable()
    attacker.get("/web/login/totp")
    assert attacker.path() == "/web/login"
    assert attacker.get("/web").url.endswith("/web/login?redirect=%2Fweb")


def test_an_archived_user_cannot_finish_the_code_step(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client = erp2fa.client()
    password_step(client, "demo", USER_PASSWORD)
    token = client.csrf()
    with erp2fa.server.environment() as env:
        # archived directly in the table: the session survives, only the flag changes
        env.conn.exec_driver_sql("UPDATE res_users SET active = false WHERE login = 'demo'")
    submit_code(client, code(secret, erp2fa), csrf=token)
    assert client.path() == "/web/login"
    with erp2fa.server.environment() as env:
        assert env["auth_totp.event"].search_count([("event", "=", "success")]) == 0


def test_huge_ids_in_urls_are_404_not_500(erp2fa):
    admin = erp2fa.client()
    admin.login("admin", ADMIN_PASSWORD)
    for path in ("/auth_totp/devices/99999999999999999999999/revoke",
                 "/auth_totp/users/99999999999999999999999/disable",
                 "/web/users/99999999999999999999999/archive"):
        response = admin.post(path, from_page="/web/preferences")
        assert response.status_code == 404, (path, response.status_code)


def test_the_form_wins_over_the_query_string(erp2fa):
    client = erp2fa.client()
    client.login("demo", USER_PASSWORD)
    client.post("/web/identity?redirect=/web/users", {"password": USER_PASSWORD,
                                                      "redirect": "/web/preferences"},
                from_page="/web/identity")
    assert client.path() == "/web/preferences"
    assert isinstance(client.last, requests.Response)
