"""Build the user guides that auth_totp serves, from the markdown in ``doc/``.

The **Voir plus** / **Learn more** link of the second-factor page opens
``/auth_totp/static/doc/guide-utilisateur.html`` (French) or
``/auth_totp/static/doc/user-guide.html``. A half-signed-in session can reach no
route, but static files are served without a session, so the guides are plain
HTML files in the addon, with copies of the screenshots they show.

The markdown is the source; the HTML and the copies are generated and committed::

    python tools/build_guides.py           # write them
    python tools/build_guides.py --check   # exit 1 when they are out of date

``tests/browser/test_guides.py`` runs the check, so a guide edited without
rebuilding fails the tests.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import markdown

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "doc"
OUT = ROOT / "auth_totp" / "static" / "doc"
IMG_RE = re.compile(r'<img [^>]*src="img/([^"/]+)"')
H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)


@dataclass(frozen=True)
class Guide:
    source: str  #: markdown file in doc/
    target: str  #: HTML file in auth_totp/static/doc/
    lang: str


GUIDES = (
    Guide("guide-utilisateur.md", "guide-utilisateur.html", "fr"),
    Guide("user-guide.md", "user-guide.html", "en"),
)

PAGE = """<!DOCTYPE html>
<!-- Generated from doc/{source} by tools/build_guides.py: edit the markdown, then run
     python tools/build_guides.py -->
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/web/static/src/css/web.css">
<link rel="stylesheet" href="/auth_totp/static/src/css/auth_totp.css">
</head>
<body>
<main class="page guide">
{body}
</main>
</body>
</html>
"""


def render(guide: Guide) -> str:
    """The HTML page of *guide*: the markdown's body in the site's frame."""
    text = (DOC / guide.source).read_text(encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables", "toc", "sane_lists"],
                             extension_configs={"toc": {"slugify": _slug}}, output_format="html")
    match = H1_RE.search(body)
    title = re.sub(r"<[^>]+>", "", match.group(1)) if match else guide.target
    return PAGE.format(source=guide.source, lang=guide.lang, title=html.escape(title,
                       quote=False), body=body)


def _slug(value: str, separator: str) -> str:
    """Heading ids that keep accented letters readable: "Clé perdue" -> "cle-perdue"."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", separator, value.lower()).strip(separator)


def expected() -> dict[Path, bytes]:
    """Every generated file and its content: the pages, and the images they show."""
    files: dict[Path, bytes] = {}
    for guide in GUIDES:
        page = render(guide)
        files[OUT / guide.target] = page.encode("utf-8")
        for name in IMG_RE.findall(page):
            source = DOC / "img" / name
            if not source.is_file():
                raise SystemExit(f"doc/{guide.source} shows img/{name}, which doc/img/ lacks")
            files[OUT / "img" / name] = source.read_bytes()
    return files


def outdated() -> list[str]:
    """What is wrong with the served guides (empty when they are current).

    A page must be exactly what the markdown gives today; an image it shows must
    be there. The screenshots themselves are retaken at every browser test run,
    which refreshes both copies (``tests/browser/pages.py``), so their bytes
    are not compared: two runs at once in one work tree must not fail this.
    """
    files = expected()
    problems = [f"{path.relative_to(ROOT)} is out of date"
                for path, content in files.items()
                if not path.is_file() or (path.suffix == ".html" and path.read_bytes() != content)]
    stale = (OUT / "img").glob("*") if (OUT / "img").is_dir() else []
    problems += [f"{path.relative_to(ROOT)} is no longer used" for path in stale
                 if path not in files]
    return sorted(problems)


def build() -> list[str]:
    """Write the generated files, remove images no guide uses; returns what it did."""
    files = expected()
    done = []
    for path, content in files.items():
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            done.append(f"wrote {path.relative_to(ROOT)}")
    for path in (OUT / "img").glob("*"):
        if path not in files:
            path.unlink()
            done.append(f"removed {path.relative_to(ROOT)}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when the served guides are out of date")
    args = parser.parse_args(argv)
    if args.check:
        problems = outdated()
        for line in problems:
            print(line)
        if problems:
            print("run: python tools/build_guides.py")
        return 1 if problems else 0
    for line in build():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
