"""User enumeration: the sign-in page answers alike for known and unknown logins."""

from __future__ import annotations

import re

from tests.adversarial.attack import create_user, enable
from tests.support import CSRF_RE

ATTEMPTS = 12  # past the sign-in throttle's limit of 10


def normalised(body: str, login: str) -> str:
    """The page with its CSRF token and the echoed login blanked out."""
    body = CSRF_RE.sub('name="csrf_token" value="CSRF"', body)
    return re.sub(re.escape(login), "LOGIN", body)


def attempts(erp, login: str, series: int) -> list[tuple[int, str]]:
    """ATTEMPTS wrong passwords for *login*, each from a fresh session and a fresh IP (so
    that only the per-login throttle can answer differently)."""
    answers = []
    for n in range(ATTEMPTS):
        client = erp.client(**{"X-Forwarded-For": f"203.0.{series}.{n + 1}",
                               "Accept-Language": "en"})
        response = client.post("/web/login", {"login": login, "password": "wrong-password-9"},
                               from_page="/web/login")
        answers.append((response.status_code, normalised(response.text, login)))
    return answers


def test_known_and_unknown_logins_get_the_same_answers_and_throttling(make_erp, handed_out):
    erp = make_erp("sqlite", addons=("auth_totp",), proxy_mode=True)
    enable(erp, "demo", handed_out)  # a known login with 2FA
    create_user(erp, "nobody-2fa", "nobody-pass-1")  # known, without 2FA
    archived = create_user(erp, "gone-user", "gone-pass-1")
    with erp.server.environment() as env:
        env["res.users"].browse(archived).write({"active": False})
    # same length, so that even the echoed login takes the same room in the page
    logins = ["demo", "zzzz", "nobody-2fa", "nobody-zzz", "gone-user"]
    series = {login: attempts(erp, login, i) for i, login in enumerate(logins)}
    reference = series["zzzz"]
    statuses = [status for status, _body in reference]
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
    for login, answers in series.items():
        assert answers == reference, f"{login!r} answers differently from an unknown login"
