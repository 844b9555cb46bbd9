"""The pure parts: a rendered document to subject, HTML and text; the mail settings."""

from __future__ import annotations

import pytest

from erpcore.config import Config, ConfigError
from erpcore.mail.render import format_for, split_document

DOCUMENT = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>  Un   sujet
 sur deux lignes </title><style>p { color: red }</style></head>
<body><p>Bonjour <b>Marc</b>,</p>
<p>Codes restants\u00a0: 2
   sur 10.</p>
<ul><li>un</li><li>deux</li></ul>
<p><a href="https://erp.example.com/web/preferences">Ouvrir vos préférences</a></p>
<p><a href="https://erp.example.com/web/login">https://erp.example.com/web/login</a></p>
</body></html>"""


def test_a_document_gives_its_subject_its_html_and_the_same_words_as_text():
    mail = split_document(DOCUMENT)
    assert mail.subject == "Un sujet sur deux lignes"
    assert mail.html == DOCUMENT
    assert mail.text == (
        "Bonjour Marc,\n\n"
        "Codes restants\u00a0: 2 sur 10.\n\n"  # the no-break space of French stays
        "  - un\n  - deux\n\n"
        "Ouvrir vos préférences <https://erp.example.com/web/preferences>\n\n"
        "https://erp.example.com/web/login\n")


@pytest.mark.parametrize(("tz", "lang", "expected"), [
    ("Europe/Paris", "fr", "1 janvier 2026, 01:00:00 +0100"),
    ("America/Montreal", "en", "December 31, 2025, 7:00:00\u202fPM EST"),
    ("Nowhere/Atlantis", "en", "January 1, 2026, 12:00:00\u202fAM UTC"),
])
def test_dates_are_in_the_recipients_zone_and_language(tz, lang, expected):
    assert format_for(1767225600.0, tz, lang) == expected  # 2026-01-01 00:00 UTC


def test_public_address_and_sender_defaults_and_refusals():
    assert Config().base_url == "http://127.0.0.1:8069"
    assert Config(http_interface="::1", http_port=8070).base_url == "http://[::1]:8070"
    assert Config(public_url="https://erp.example.com/").base_url == "https://erp.example.com"
    assert Config().sender == "erpcore@localhost"  # an IP address is no mail domain
    assert Config(public_url="https://erp.example.com").sender == "erpcore@erp.example.com"
    assert Config(email_from="erp@example.com").sender == "erp@example.com"
    assert "smtp_password" not in repr(Config(smtp_password="hidden-password"))
    for bad, message in [({"smtp_ssl": "tls"}, "--smtp-ssl must be one of"),
                         ({"smtp_port": 0}, "--smtp-port must be a port number"),
                         ({"public_url": "erp.example.com"}, "--public-url must start with"),
                         ({"email_from": "Erp <erp@example.com>"}, "--email-from must be one")]:
        with pytest.raises(ConfigError, match=message):
            Config(**bad).check()
