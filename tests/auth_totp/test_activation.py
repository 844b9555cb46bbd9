"""Activation from Préférences: identity re-check, QR code, first code, recovery codes."""

import base64
import io
import re
from urllib.parse import parse_qs, unquote, urlsplit

import zxingcpp
from PIL import Image

from auth_totp import totp
from tests.support import USER_PASSWORD, count_rows
from tests.support_totp import CODES_RE, KEY_RE, WIZARD_RE, code, error_text

QR_RE = re.compile(r'<img class="qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def open_setup(client, erp):
    """Sign in, let the password check go stale, press the button, type the password."""
    client.login("demo", USER_PASSWORD)
    prefs = client.get("/web/preferences")
    assert 'href="/auth_totp/setup"' in prefs.text and "Authentification 2FA" in prefs.text
    erp.clock.advance(601)  # the password was checked more than 10 minutes ago
    client.get("/auth_totp/setup")
    assert client.path().startswith("/web/identity?redirect=%2Fauth_totp%2Fsetup")
    wrong = client.post("/web/identity", {"password": "not-it", "redirect": "/auth_totp/setup"})
    assert "Mot de passe incorrect" in wrong.text
    page = client.post("/web/identity", {"password": USER_PASSWORD,
                                         "redirect": "/auth_totp/setup"})
    assert client.path() == "/auth_totp/setup"
    return page


def decode_qr(page_html: str) -> str:
    png = base64.b64decode(QR_RE.search(page_html).group(1))
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return results[0].text


def test_setup_page_and_qr_code(erp2fa):
    client = erp2fa.client(**{"Accept-Language": "fr"})
    page = open_setup(client, erp2fa)
    for app in ("Authy", "Google Authenticator", "Microsoft Authenticator"):
        assert app in page.text
    uri = decode_qr(page.text)
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/My Company:demo"
    assert query == {"secret": query["secret"], "issuer": ["My Company"],
                     "algorithm": ["SHA1"], "digits": ["6"], "period": ["30"]}
    secret_b32 = query["secret"][0]
    assert len(totp.from_base32(secret_b32)) == 20
    # the same key as text, grouped by four
    shown = KEY_RE.search(page.text).group(1)
    assert shown == totp.group(secret_b32)
    # the issuer comes from the configuration, not from the request's Host
    # (requests picks cookies by the Host header, so the session cookie is given by hand)
    evil = client.get("/auth_totp/setup", headers={
        "Host": "evil.example", "Cookie": f"session_id={client.cookie('session_id')}"})
    assert client.path() == "/auth_totp/setup"
    assert "evil" not in unquote(decode_qr(evil.text))

    # the secret read from the QR code gives the codes that activate
    wizard_id = WIZARD_RE.search(evil.text).group(1)
    secret = totp.from_base32(parse_qs(urlsplit(decode_qr(evil.text)).query)["secret"][0])
    done = client.post("/auth_totp/setup", {"wizard_id": wizard_id,
                                             "totp_token": code(secret, erp2fa)})
    assert done.status_code == 200
    codes = CODES_RE.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'download="recovery-codes.txt"' in done.text
    link = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)" download', done.text)
    assert unquote(link.group(1)).split("\n") == codes
    assert totp.to_base32(secret) not in done.text
    # shown once: Préférences only gives the count
    prefs = client.get("/web/preferences")
    assert "Codes de récupération restants : 10 sur 10." in prefs.text
    assert not CODES_RE.findall(prefs.text)


def test_wrong_code_says_so_and_stores_nothing(erp2fa):
    client = erp2fa.client(**{"Accept-Language": "fr"})
    page = open_setup(client, erp2fa)
    wizard_id = WIZARD_RE.search(page.text).group(1)
    secret = totp.from_base32(KEY_RE.search(page.text).group(1).replace(" ", ""))
    right = code(secret, erp2fa)
    for bad in ("", "abcdef", "12345", "١٢٣٤٥٦", "9" * 10_000,
                f"{(int(right) + 1) % 1_000_000:06d}"):
        refused = client.post("/auth_totp/setup", {"wizard_id": wizard_id, "totp_token": bad})
        assert refused.status_code in (400, 429)
        assert error_text(refused)
        assert count_rows(erp2fa.server, "res_users", "WHERE totp_secret IS NOT NULL") == 0
        assert count_rows(erp2fa.server, "auth_totp_recovery_code") == 0
    erp2fa.clock.advance(3600)  # past the throttle; the wizard expired meanwhile
    expired = client.post("/auth_totp/setup", {"wizard_id": wizard_id,
                                                "totp_token": code(secret, erp2fa)})
    assert expired.status_code == 400 and "expiré" in expired.text
    assert count_rows(erp2fa.server, "res_users", "WHERE totp_secret IS NOT NULL") == 0


def test_another_users_wizard_is_refused(erp2fa):
    demo = erp2fa.client()
    page = open_setup(demo, erp2fa)
    wizard_id = WIZARD_RE.search(page.text).group(1)
    secret = totp.from_base32(KEY_RE.search(page.text).group(1).replace(" ", ""))
    admin = erp2fa.client()
    from tests.support import ADMIN_PASSWORD
    admin.login("admin", ADMIN_PASSWORD)
    stolen = admin.post("/auth_totp/setup", {"wizard_id": wizard_id,
                                             "totp_token": code(secret, erp2fa)},
                        from_page="/web/preferences")
    assert stolen.status_code == 400
    assert count_rows(erp2fa.server, "res_users", "WHERE totp_secret IS NOT NULL") == 0


def test_stale_wizards_are_found_by_time_whatever_the_database_time_zone(erp2fa):
    """Datetimes in a search are compared as stored (naive UTC), even when the database
    session is in another zone: starting a setup must not drop someone else's."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import sqlalchemy as sa

    with erp2fa.server.environment() as env:
        if erp2fa.backend == "postgresql":
            env.conn.execute(sa.text("SET LOCAL TIME ZONE 'Europe/Paris'"))
        demo = env["res.users"].search([("login", "=", "demo")])
        admin = env["res.users"].search([("login", "=", "admin")])
        now = erp2fa.clock()
        wizards = env["auth_totp.wizard"]
        waiting = wizards.start(demo.id, now - 300)  # five minutes ago: still valid
        wizards.start(admin.id, now)  # drops the abandoned ones, older than ten minutes
        assert waiting.exists()
        paris = dt.datetime.fromtimestamp(now - 400, ZoneInfo("Europe/Paris"))
        assert wizards.search([("create_date", ">", paris)]) == wizards.search([])
