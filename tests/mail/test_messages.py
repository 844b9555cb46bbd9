"""Each message of the issue reaches its owner, in their language, with nothing secret.

The real app over HTTP, the real sender thread, a real SMTP server; on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

from lxml import html as lxml_html

from auth_totp import totp
from erpcore.mail.outbox import timestamp
from erpcore.mail.render import format_for
from tests.mail.conftest import assert_no_secret, outbox, parts, wait_all_sent
from tests.support import ADMIN_PASSWORD, USER_PASSWORD
from tests.support_totp import (
    CODES_RE,
    activate_through_pages,
    code,
    enable_totp,
    password_step,
    regenerate,
    submit_code,
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEMO = "demo@example.com"
LINK_RE = re.compile(r'href="([^"]*)"')


def user_id(erp, login: str) -> int:
    with erp.env() as env:
        return env["res.users"].search([("login", "=", login)]).id


def wrong_code(secret: bytes, erp) -> str:
    return f"{(int(code(secret, erp)) + 500_000) % 1_000_000:06d}"


def check_form(message, *, to: str, lang: str) -> dict[str, str]:
    """The headers every message has, and its two parts; returns the parts."""
    assert message["To"] == to
    assert message["From"] == "erp@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.com>", message["Message-ID"])
    assert message.get_content_type() == "multipart/alternative"
    found = parts(message)
    assert set(found) == {"text/plain", "text/html"}
    assert f'lang="{lang}"' in found["text/html"]
    # its links lead to pages that ask for the password: none carries a token
    for link in LINK_RE.findall(found["text/html"]):
        assert link in ("https://erp.example.com/web/preferences",
                        "https://erp.example.com/web/login"), link
    return found


def test_every_change_to_the_second_factor_is_mailed_to_its_owner_in_french(mail_erp, smtp):
    erp = mail_erp()
    when = format_for(erp.clock(), "Europe/Paris", "fr")  # Marc Demo: French, Paris
    secrets: list[str] = [USER_PASSWORD, ADMIN_PASSWORD]
    codes: list[str] = []

    demo = erp.client(**{"User-Agent": FIREFOX})
    demo.login("demo", USER_PASSWORD)
    secret, first_codes = activate_through_pages(demo, erp, USER_PASSWORD)  # 1. on
    codes.append(code(secret, erp))
    secrets += [totp.to_base32(secret), totp.group(totp.to_base32(secret)), *first_codes]
    page = regenerate(demo)  # 4.
    new_codes = CODES_RE.findall(page.text)
    assert len(new_codes) == 10
    secrets += [*new_codes, demo.cookie("session_id")]

    browser = erp.client(**{"User-Agent": FIREFOX})  # 3. a recovery code, 6. trusted
    password_step(browser, "demo", USER_PASSWORD)
    submit_code(browser, new_codes[0], remember=True)
    assert browser.path() == "/web"
    secrets += [browser.cookie("session_id"), browser.cookie("td_id")]

    intruder = erp.client()  # 7. five wrong codes: a lockout
    password_step(intruder, "demo", USER_PASSWORD)
    for _ in range(5):
        codes.append(wrong_code(secret, erp))
        submit_code(intruder, codes[-1])
    secrets.append(intruder.cookie("session_id"))

    admin = erp.client(**{"Accept-Language": "en"})  # 2. off, by an administrator
    admin.login("admin", ADMIN_PASSWORD)
    admin.post(f"/auth_totp/users/{user_id(erp, 'demo')}/disable", from_page="/web/users")
    assert admin.path() == "/web/users?message=totp_disabled"
    secrets.append(admin.cookie("session_id"))

    received = smtp.wait_for(6)
    wait_all_sent(erp)
    assert len(smtp.received) == 6  # one each, no more
    by_subject = {r.message["Subject"]: r for r in received}
    assert set(by_subject) == {
        "L'authentification 2FA est activée",
        "De nouveaux codes de récupération ont été créés",
        "Un code de récupération a été utilisé",
        "Un nouveau navigateur de confiance",
        "Quelqu'un essaie des codes sur votre compte",
        "L'authentification 2FA est désactivée",
    }
    texts = {}
    for subject, one in by_subject.items():
        assert one.rcpt_tos == (DEMO,)
        found = check_form(one.message, to=DEMO, lang="fr")
        assert_no_secret(one, [s for s in secrets if s], codes)
        text = found["text/plain"]
        assert text.startswith("Bonjour Marc Demo,"), text
        assert when in text and "127.0.0.1" in text, text  # Paris time, the address
        assert "N'y répondez pas." in text and "Open" not in text
        texts[subject] = text
    assert "Codes de récupération restants\u00a0: 9 sur 10." in \
        texts["Un code de récupération a été utilisé"]
    assert "Firefox sous Linux, depuis l'adresse 127.0.0.1" in \
        texts["Un nouveau navigateur de confiance"]
    assert "par l'administrateur Administrator, depuis l'adresse 127.0.0.1" in \
        texts["L'authentification 2FA est désactivée"]
    assert "Changez votre mot de passe" in texts["Quelqu'un essaie des codes sur votre compte"]
    html = lxml_html.fromstring(by_subject["L'authentification 2FA est activée"].message.get_body(
        ("html",)).get_content().encode())
    assert html.findtext(".//title") == "L'authentification 2FA est activée"


def test_messages_five_eight_and_nine_in_english_in_the_users_time_zone(mail_erp, smtp):
    erp = mail_erp()
    with erp.env() as env:
        ana = env["res.users"].create({
            "login": "ana", "name": "Ana Lima", "password": USER_PASSWORD, "lang": "en",
            "tz": "America/Montreal", "email": "ana@example.org",
            "group_ids": [env.ref("base.group_user").id]})
        admin = env["res.users"].search([("login", "=", "admin")])
        now = erp.clock()
        env["auth_totp.event"].record(ana.id, "authenticator_changed", now=now, ip="192.0.2.7")
        ana._totp_invite(admin, now)
        ana._totp_deadline_reminder(now + 2 * 86400, now)
    received = {r.message["Subject"]: r for r in smtp.wait_for(3)}
    assert set(received) == {"Your authenticator app was changed",
                             "Please turn on two-factor authentication",
                             "Two-factor authentication will soon be required"}
    for one in received.values():
        text = check_form(one.message, to="ana@example.org", lang="en")["text/plain"]
        assert text.startswith("Hello Ana Lima,")
        assert_no_secret(one, [USER_PASSWORD, ADMIN_PASSWORD])
    montreal = format_for(now, "America/Montreal", "en")
    assert re.search(r"\b(EST|EDT)\b", montreal)
    changed = parts(received["Your authenticator app was changed"].message)["text/plain"]
    assert f"{montreal}, from the address 192.0.2.7" in changed
    invited = parts(received["Please turn on two-factor authentication"].message)["text/plain"]
    assert "Administrator invites you to turn on two-factor authentication" in invited
    assert "Open your preferences <https://erp.example.com/web/preferences>" in invited
    deadline = parts(received["Two-factor authentication will soon be required"].message)
    in_two_days = format_for(now + 2 * 86400, "America/Montreal", "en")
    assert f"required for your account from {in_two_days}." in deadline["text/plain"]


def test_one_mail_of_a_kind_per_ten_minutes_the_rest_summed_up(mail_erp, smtp):
    """Three lockouts in two minutes: one mail at once, one ten minutes later with two."""
    erp = mail_erp()
    secret = enable_totp(erp, "demo")
    start = erp.clock()
    intruder = erp.client()
    password_step(intruder, "demo", USER_PASSWORD)
    for _ in range(5):
        submit_code(intruder, wrong_code(secret, erp))  # the fifth starts a 30 s wait
    first = smtp.wait_for(1)[0]
    for wait in (31, 61):
        erp.clock.advance(wait)
        submit_code(intruder, wrong_code(secret, erp))  # each starts a longer wait
    rows = outbox(erp)
    assert [(r.kind, r.state) for r in rows] == [("auth_totp.lockout", "sent"),
                                                 ("auth_totp.lockout", "outgoing")]
    waiting = rows[1]
    assert timestamp(waiting.scheduled_date) == timestamp(rows[0].due_date) + 600  # a window on
    assert len(smtp.received) == 1
    erp.clock.set(start + 600)
    later = smtp.wait_for(2)[1]
    wait_all_sent(erp)
    assert len(smtp.received) == 2
    assert first.message["Subject"] == later.message["Subject"] == \
        "Quelqu'un essaie des codes sur votre compte"
    summed = parts(later.message)["text/plain"]
    assert summed.count("depuis l'adresse 127.0.0.1") == 2  # both later lockouts
    assert parts(first.message)["text/plain"].count("depuis l'adresse") == 1


def test_a_new_api_key_is_mailed_to_its_owner_without_the_key(mail_erp, smtp):
    """Made in Préférences by the owner, then by the command line: one mail each (ten
    minutes apart), in the owner's language, naming the key but never holding it."""
    from tests.rpc.test_apikeys import KEY_RE, new_key_through_preferences
    from tests.server.helpers import run_cli

    erp = mail_erp()
    client = erp.client()
    client.login("demo", USER_PASSWORD)
    shown = new_key_through_preferences(client, name="Import nocturne", duration="7")
    key = KEY_RE.search(shown.text).group(1)
    first = smtp.wait_for(1)[0]
    text = check_form(first.message, to="demo@example.com", lang="fr")["text/plain"]
    assert first.message["Subject"] == "Une nouvelle clé API a été créée pour votre compte"
    assert "«\u00a0Import nocturne\u00a0», valable 7 jours" in text
    assert "créée depuis l'adresse 127.0.0.1" in text
    assert_no_secret(first, [key, key[8:], USER_PASSWORD])

    erp.clock.advance(601)  # past the flood limit of the kind
    config = erp.server.config
    made = run_cli("apikey", "create", "demo", "--name", "backup script",
                   data_dir=config.data_dir, db_url=config.db_url)
    assert made.returncode == 0, made.stderr
    second = smtp.wait_for(2)[1]
    text = parts(second.message)["text/plain"]
    assert "«\u00a0backup script\u00a0», sans expiration" in text or \
        "«\u00a0backup script\u00a0», valable" in text
    assert "créée en ligne de commande sur le serveur" in text
    assert_no_secret(second, [made.stdout.strip(), made.stdout.strip()[8:]])
