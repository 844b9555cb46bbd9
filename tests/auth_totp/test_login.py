"""The second step of sign-in: the page, the code, and the guarantees of DESIGN section 6."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import html

from tests.support import USER_PASSWORD, count_rows
from tests.support_totp import code, enable_totp, error_text, password_step, submit_code

FRENCH = {
    "title": "Authentification 2FA",
    "text": "Pour se connecter, entrer le code d'authentification à 6 chiffres fourni "
            "par votre application d'authentification.",
    "label": "code d'authentification",
    "placeholder": "ex: 123456",
    "submit": "Connexion",
    "cancel": "Annuler",
    "more": "Voir plus",
    "guide": "/auth_totp/static/doc/guide-utilisateur.html",
}
ENGLISH = {
    "title": "Two-factor authentication",
    "text": "To sign in, enter the 6-digit authentication code provided by your "
            "authenticator app.",
    "label": "authentication code",
    "placeholder": "e.g. 123456",
    "submit": "Sign in",
    "cancel": "Cancel",
    "more": "Learn more",
    "guide": "/auth_totp/static/doc/user-guide.html",
}


@pytest.mark.parametrize(("language", "strings"), [("fr-FR,fr;q=0.9", FRENCH),
                                                    ("en-US,en;q=0.9", ENGLISH)])
def test_the_page_says_what_the_guide_shows(erp2fa, language, strings):
    enable_totp(erp2fa, "demo")
    with erp2fa.server.environment() as env:  # the user's language wins over the browser's
        env["res.users"].search([("login", "=", "demo")]).write(
            {"lang": "fr" if strings is FRENCH else "en"})
    client = erp2fa.client(**{"Accept-Language": language})
    page = html.fromstring(password_step(client, "demo", USER_PASSWORD).content)
    assert page.findtext(".//h1").strip() == strings["title"]
    assert strings["text"] in page.text_content()
    field = page.get_element_by_id("totp_token")
    label = page.xpath("//label[@for='totp_token']")[0]
    assert label.text_content().strip() == strings["label"]
    assert field.get("placeholder") == strings["placeholder"]
    assert field.get("autocomplete") == "one-time-code"
    assert field.get("inputmode") == "numeric"
    assert field.get("autofocus") is not None
    assert field.get("name") == "totp_token"
    buttons = [b.text_content().strip() for b in page.xpath("//button")]
    assert strings["submit"] in buttons and strings["cancel"] in buttons
    more = page.xpath(f"//a[normalize-space()='{strings['more']}']")[0]
    assert more.get("href") == strings["guide"]
    remember = page.get_element_by_id("remember")
    assert remember.get("name") == "remember" and remember.get("type") == "checkbox"
    assert "90" in page.xpath("//label[@for='remember']")[0].text_content()


def test_cancel_signs_out(erp2fa):
    enable_totp(erp2fa, "demo")
    client = erp2fa.client()
    password_step(client, "demo", USER_PASSWORD)
    half = client.cookie("session_id")
    client.post("/web/session/logout", from_page="/web/login/totp")
    assert client.path() == "/web/login"
    assert client.cookie("session_id") != half
    client.get("/web/login/totp")
    assert client.path() == "/web/login"


def test_code_with_a_space_is_accepted(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client = erp2fa.client()
    password_step(client, "demo", USER_PASSWORD)
    value = code(secret, erp2fa)
    submit_code(client, f"{value[:3]} {value[3:]}")
    assert client.path() == "/web"


@pytest.mark.parametrize("bad", ["", "abcdef", "12345", "1234567", "١٢٣٤٥٦", "１２３４５６",
                                 "9" * 10_000, "12a456"])
def test_anything_else_is_a_clear_failure(make_erp, bad):
    erp = make_erp("sqlite", addons=("auth_totp",))
    enable_totp(erp, "demo")
    client = erp.client(**{"Accept-Language": "fr"})
    password_step(client, "demo", USER_PASSWORD)
    refused = submit_code(client, bad)
    assert refused.status_code == 401
    assert error_text(refused) in ("Le code compte 6 chiffres.",
                                   "Code d'authentification incorrect.",
                                   "Ce code de récupération n'est pas valide ou a déjà servi.")
    assert client.path() == "/web/login/totp"
    assert count_rows(erp.server, "ir_throttle",
                      "WHERE key LIKE 'totp|U%' AND failures = 1") == 1


def test_window_is_one_step_each_side(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    erp2fa.clock.advance(90)  # leave the step used at activation behind
    client = erp2fa.client()
    for steps in (-1, 0, 1):  # each accepted once, in increasing order of step
        password_step(client, "demo", USER_PASSWORD)
        submit_code(client, code(secret, erp2fa, steps))
        assert client.path() == "/web", steps
        client.post("/web/session/logout", from_page="/web")
        erp2fa.clock.advance(90)
    password_step(client, "demo", USER_PASSWORD)
    old = submit_code(client, code(secret, erp2fa, -2))
    assert old.status_code == 401 and client.path() == "/web/login/totp"


def test_a_code_is_accepted_once(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    value = code(secret, erp2fa)
    first = erp2fa.client()
    password_step(first, "demo", USER_PASSWORD)
    submit_code(first, value)
    assert first.path() == "/web"
    second = erp2fa.client(**{"Accept-Language": "fr"})
    password_step(second, "demo", USER_PASSWORD)
    again = submit_code(second, value)
    assert again.status_code == 401
    assert error_text(again) == ("Ce code a déjà été utilisé. "
                                 "Attendez le code suivant de votre application.")
    # an older code of the window is refused too: the step went forward
    assert submit_code(second, code(secret, erp2fa, -1)).status_code == 401
    erp2fa.clock.advance(30)
    submit_code(second, code(secret, erp2fa))
    assert second.path() == "/web"


def test_twenty_parallel_submissions_one_success(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    clients = [erp2fa.client() for _ in range(20)]
    for client in clients:
        password_step(client, "demo", USER_PASSWORD)
    tokens = [client.csrf() for client in clients]
    value = code(secret, erp2fa)

    def send(pair):
        client, token = pair
        return client.session.post(client.base + "/web/login/totp", timeout=60,
                                   data={"totp_token": value, "csrf_token": token},
                                   allow_redirects=False)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, zip(clients, tokens, strict=True)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(303) == 1, statuses
    assert set(statuses) <= {303, 401, 429}
    signed_in = [c for c in clients if c.get("/web").url.endswith("/web")]
    assert len(signed_in) == 1


def test_throttle_per_account_across_sessions_and_ips(make_erp, backend):
    erp = make_erp(backend, addons=("auth_totp",), proxy_mode=True)
    secret = enable_totp(erp, "demo")

    def attempt(n: int, value: str):
        client = erp.client(**{"X-Forwarded-For": f"203.0.113.{n}", "Accept-Language": "fr"})
        password_step(client, "demo", USER_PASSWORD)
        return client, submit_code(client, value)

    wrong = f"{(int(code(secret, erp)) + 1) % 1_000_000:06d}"
    for n in range(4):
        assert attempt(n, wrong)[1].status_code == 401
    fifth = attempt(4, wrong)[1]
    assert "Réessayez dans 30 secondes" in error_text(fifth)
    client, blocked = attempt(5, code(secret, erp))  # the right code, during the wait
    assert blocked.status_code == 429 and client.path() == "/web/login/totp"
    assert "Trop de tentatives. Réessayez dans 30 secondes." in error_text(blocked)
    waits = []
    for n in range(12):  # each further failure doubles the wait, up to one hour
        erp.clock.advance(3601)
        message = error_text(attempt(10 + n, wrong)[1])
        waits.append(int(re.search(r"Réessayez dans (\d+) secondes", message).group(1)))
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600, 3600, 3600]
    erp.clock.advance(3601)
    client, ok = attempt(99, code(secret, erp))
    assert client.path() == "/web"
    assert count_rows(erp.server, "ir_throttle", "WHERE key LIKE 'totp|U%'") == 0


@pytest.mark.parametrize(("steps", "words"), [(2, "avancer d'environ 60 secondes"),
                                              (-3, "retarder d'environ 90 secondes"),
                                              (10, "avancer d'environ 5 minutes")])
def test_clock_drift_is_explained(make_erp, steps, words):
    erp = make_erp("sqlite", addons=("auth_totp",))
    secret = enable_totp(erp, "demo")
    client = erp.client(**{"Accept-Language": "fr"})
    password_step(client, "demo", USER_PASSWORD)
    refused = submit_code(client, code(secret, erp, steps))
    assert refused.status_code == 401 and words in error_text(refused)
    far = submit_code(client, code(secret, erp, 11 if steps > 0 else -11))
    assert error_text(far) == "Code d'authentification incorrect."


def test_the_code_page_expires_after_ten_minutes(erp2fa):
    secret = enable_totp(erp2fa, "demo")
    client = erp2fa.client(**{"Accept-Language": "fr"})
    password_step(client, "demo", USER_PASSWORD)
    token = client.csrf()
    erp2fa.clock.advance(601)
    late = submit_code(client, code(secret, erp2fa), csrf=token)
    assert client.path() == "/web/login?error=expired"
    assert "Votre connexion a pris trop de temps. Veuillez vous reconnecter." in late.text
    assert client.get("/web").url.endswith("/web/login?redirect=%2Fweb")
