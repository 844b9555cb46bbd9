from tests.support import USER_PASSWORD
from tests.support_totp import code, enable_totp, password_step, submit_code


def test_sign_in_with_code(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client = erp2fa.client()
    password_step(client, "demo", USER_PASSWORD)
    submit_code(client, code(secret, erp2fa))
    assert client.path() == "/web"
