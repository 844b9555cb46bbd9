"""Translation at compile time, ``t-translation="off"`` and term extraction."""

from lxml import etree

from erpcore.qweb import QWeb, extract_terms

FRENCH = {
    "Log in": "Se connecter",
    "Email": "Courriel",
    "Password": "Mot de passe",
    "Send": "Envoyer",
    "Logo": "Logo FR",
    "Hello": "Bonjour",
    "Menu": "Menu FR",
    "Help": "Aide",
}

LOGIN = """<template id="web.login">
  <form title="Log in">
    <h1>  Log in  </h1>
    <input type="email" placeholder="Email" t-att-value="email"/>
    <input type="password" placeholder="Password"/>
    <input type="submit" value="Send"/>
    <input type="text" value="Email"/>
    <img alt="Logo" t-attf-title="Help {{ name }}"/>
    <p t-translation="off">Hello <b>Password</b></p>
    <span aria-label="Menu">12:30 - 42% !</span>
    <script>var Hello = 1;</script>
    <t t-esc="'Hello'"/>Help
  </form>
</template>"""


def french(lang: str, text: str) -> str:
    return FRENCH.get(text, text) if lang == "fr" else text


def login_engine(translate=french) -> QWeb:
    engine = QWeb(translate=translate)
    engine.add_template("web.login", etree.fromstring(LOGIN))
    return engine


def test_text_and_attributes_are_translated_keeping_whitespace():
    html = login_engine().render("web.login", {"email": "a@b.c", "name": "x"}, lang="fr")
    assert '<form title="Se connecter">' in html
    assert "<h1>  Se connecter  </h1>" in html
    assert '<input type="email" placeholder="Courriel" value="a@b.c">' in html
    assert '<input type="password" placeholder="Mot de passe">' in html
    assert '<input type="submit" value="Envoyer">' in html
    assert '<input type="text" value="Email">' in html
    assert '<img alt="Logo FR" title="Help x">' in html
    assert '<span aria-label="Menu FR">12:30 - 42% !</span>' in html
    assert "<script>var Hello = 1;</script>" in html
    assert "HelloAide\n  </form>" in html


def test_translation_off_subtree_is_kept():
    html = login_engine().render("web.login", {"email": None, "name": ""}, lang="fr")
    assert "<p>Hello <b>Password</b></p>" in html


def test_other_language_and_no_translate_keep_the_source():
    values = {"email": None, "name": ""}
    english = login_engine().render("web.login", values, lang="en")
    untranslated = login_engine(translate=None).render("web.login", values, lang="fr")
    assert english == untranslated
    assert "<h1>  Log in  </h1>" in english


def test_extract_terms_lists_terms_with_line_numbers():
    assert extract_terms(etree.fromstring(LOGIN)) == [
        (2, "Log in"),
        (3, "Log in"),
        (4, "Email"),
        (5, "Password"),
        (6, "Send"),
        (8, "Logo"),
        (10, "Menu"),
        (12, "Help"),
    ]


def test_extract_terms_matches_what_translate_receives():
    received: list[str] = []

    def recording(lang: str, text: str) -> str:
        received.append(text)
        return text

    engine = login_engine(translate=recording)
    engine.render("web.login", {"email": None, "name": ""}, lang="fr")
    engine.render("web.login", {"email": None, "name": ""}, lang="fr")
    assert received == [term for _, term in extract_terms(etree.fromstring(LOGIN))]


def test_extract_terms_does_not_modify_the_tree():
    arch = etree.fromstring(LOGIN)
    before = etree.tostring(arch)
    extract_terms(arch)
    assert etree.tostring(arch) == before


def test_translation_applies_to_inherited_content():
    engine = login_engine()
    engine.add_inheritance(
        "web.login",
        etree.fromstring(
            '<template><xpath expr="//h1" position="after"><p>Hello</p></xpath></template>'
        ),
    )
    html = engine.render("web.login", {"email": None, "name": ""}, lang="fr")
    assert "</h1><p>Bonjour</p>" in html
