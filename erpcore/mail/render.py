"""Turning a rendered mail template into a subject, an HTML part and a text part.

A mail template renders one HTML document (``base.mail_layout`` gives the
frame): its ``<title>`` is the subject, its ``<body>`` the HTML part, and the
text part is read off the same tree, so the two parts always say the same
thing. Pure: no database, no network.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from lxml import html as lxml_html

#: elements after which the text part starts a new paragraph
_BLOCKS = {"p", "div", "h1", "h2", "h3", "ul", "ol", "table", "section", "blockquote"}
#: elements after which it starts a new line (a list item starts its own)
_LINES = {"tr", "br", "dt", "dd"}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    html: str
    text: str


def split_document(document: str) -> RenderedMail:
    """The subject, HTML and text of a rendered mail document."""
    tree = lxml_html.document_fromstring(document)
    subject = " ".join((tree.findtext(".//title") or "").split())
    body = tree.find(".//body")
    text = html_to_text(body if body is not None else tree)
    return RenderedMail(subject=subject, html=document, text=text)


def html_to_text(element: lxml_html.HtmlElement) -> str:
    """Readable plain text of *element*: paragraphs, list items, links with their address."""
    parts: list[str] = []

    def add(text: str | None) -> None:
        if text:
            # as HTML shows it: one space (a no-break space stays, French needs it)
            parts.append(re.sub(r"[ \t\n\r\f\v]+", " ", text))

    def walk(node: lxml_html.HtmlElement) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in ("head", "style", "script", "title"):
            return
        if tag == "li":
            parts.append("\n- ")
        add(node.text)
        for child in node:
            walk(child)
            add(child.tail)
        if tag == "a" and node.get("href") and node.get("href") != node.text_content().strip():
            parts.append(f" <{node.get('href')}>")
        if tag in _BLOCKS:
            parts.append("\n\n")
        elif tag in _LINES:
            parts.append("\n")

    walk(element)
    lines = []
    for line in "".join(parts).split("\n"):
        lines.append(re.sub(r"[ \t\r\f\v]+", " ", line).strip())
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text.replace("\n- ", "\n  - ") + "\n"


def format_for(when: float | dt.datetime, tz: str | None, lang: str) -> str:
    """*when* (a timestamp, or a naive UTC datetime) as the recipient reads it.

    In the recipient's time zone, named in the result, and their language.
    """
    if isinstance(when, dt.datetime):
        moment = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
    else:
        moment = dt.datetime.fromtimestamp(when, dt.UTC)
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return format_datetime(moment, "long", tzinfo=zone, locale=lang)
