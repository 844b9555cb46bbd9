"""The shortest path through the server: sign in, see the home page, sign out."""

from tests.support import ADMIN_PASSWORD


def test_sign_in_and_out(erp):
    client = erp.client()
    response = client.login("admin", ADMIN_PASSWORD)
    assert response.status_code == 200
    assert client.path() == "/web"
    assert "Administrator" in response.text
    client.post("/web/session/logout", from_page="/web")
    assert client.path() == "/web/login"
    assert client.get("/web").url.endswith("/web/login?redirect=%2Fweb")
