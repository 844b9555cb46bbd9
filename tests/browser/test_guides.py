"""The served user guides are the markdown of ``doc/``, built and current.

No browser here: the check that the HTML under ``auth_totp/static/doc/``
matches ``tools/build_guides.py``'s output for today's markdown and images,
and that the server serves it without a session.
"""

from __future__ import annotations

import importlib.util
import re
import sys

from tests.browser.pages import IMG, ROOT

spec = importlib.util.spec_from_file_location("build_guides", ROOT / "tools" / "build_guides.py")
build_guides = sys.modules.setdefault("build_guides", importlib.util.module_from_spec(spec))
spec.loader.exec_module(build_guides)


def test_served_guides_are_built_from_the_current_markdown():
    problems = build_guides.outdated()
    assert not problems, "\n".join(problems + ["run: python tools/build_guides.py"])


def test_every_image_the_guides_show_exists():
    for name in ("guide-utilisateur.md", "user-guide.md", "admin-guide.md"):
        text = (ROOT / "doc" / name).read_text(encoding="utf-8")
        shown = re.findall(r"!\[[^\]]*\]\(img/([^)]+)\)", text)
        assert all(alt for alt in re.findall(r"!\[([^\]]*)\]", text)), f"{name}: image without alt"
        for image in shown:
            assert (IMG / image).is_file(), f"{name} shows img/{image}, missing from doc/img/"


def test_the_guides_are_served_without_a_session(make_erp):
    erp = make_erp("sqlite", addons=("auth_totp",))
    client = erp.client()
    for path, lang, title in (("guide-utilisateur.html", "fr", "Authentification à deux"),
                              ("user-guide.html", "en", "Two-factor authentication")):
        page = client.get(f"/auth_totp/static/doc/{path}")
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert f'<html lang="{lang}">' in page.text and title in page.text
        for image in re.findall(r'src="(img/[^"]+)"', page.text):
            shown = client.get(f"/auth_totp/static/doc/{image}")
            assert shown.status_code == 200 and shown.content[:8] == b"\x89PNG\r\n\x1a\n"
