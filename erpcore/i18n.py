"""Translations: extracting an addon's terms, and keeping its catalogues current.

Terms come from two places:

* Python code: ``_("...")`` calls, whatever object they are called on
  (``request._``, ``self.env._``);
* QWeb templates in the addon's XML files: text nodes and the attributes
  :func:`erpcore.qweb.extract_terms` names.

``erpcore i18n extract ADDON`` writes ``i18n/ADDON.pot`` and merges it into
every ``i18n/*.po``; ``erpcore i18n check ADDON`` fails on an untranslated or
stale term. Catalogues are read at registry build (:mod:`erpcore.registry`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from lxml import etree

from erpcore.qweb import extract_terms

METHOD_MAP = [("**.py", "python"), ("**.xml", "erpcore.i18n:extract_qweb")]
KEYWORDS = {"_": None}


def extract_qweb(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                 options: Any) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extraction method for XML data files: the terms of every ``<template>``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.parse(fileobj, parser).getroot()
    for template in root.iter("template"):
        for lineno, text in extract_terms(template):
            yield lineno, None, text, []


def extract(addon_dir: Path, project: str) -> Catalog:
    """A catalogue of every translatable term of the addon at *addon_dir*."""
    catalog = Catalog(project=project, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, _context in extract_from_dir(
            str(addon_dir), METHOD_MAP, keywords=KEYWORDS, strip_comment_tags=True):
        if isinstance(message, tuple):
            message = message[0]
        if message:
            catalog.add(message, locations=[(filename, lineno)], auto_comments=comments)
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True,
             include_lineno=False)
    text = buffer.getvalue().decode()
    # the header's creation date would make every run a change
    text = "\n".join(line for line in text.splitlines()
                     if not line.startswith(('"POT-Creation-Date', '"PO-Revision-Date')))
    path.write_text(text + "\n", encoding="utf-8")


def update(addon_dir: Path) -> list[Path]:
    """Write the addon's ``.pot`` and merge it into its ``.po`` files; returns the files."""
    name = addon_dir.name
    folder = addon_dir / "i18n"
    folder.mkdir(exist_ok=True)
    template = extract(addon_dir, name)
    written = [folder / f"{name}.pot"]
    _write(template, written[0])
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=po_path.stem)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, po_path)
        written.append(po_path)
    return written


def problems(addon_dir: Path) -> list[str]:
    """Why the addon's catalogues are not current and complete (empty when they are)."""
    name = addon_dir.name
    folder = addon_dir / "i18n"
    fresh = {m.id for m in extract(addon_dir, name) if m.id}
    found: list[str] = []
    pot_path = folder / f"{name}.pot"
    if not pot_path.exists():
        return [f"{pot_path} is missing"]
    with pot_path.open("rb") as fh:
        pot = {m.id for m in read_po(fh) if m.id}
    found += [f"{pot_path.name}: missing term {t!r}" for t in sorted(fresh - pot)]
    found += [f"{pot_path.name}: stale term {t!r}" for t in sorted(pot - fresh)]
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        done = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
        found += [f"{po_path.name}: untranslated {t!r}" for t in sorted(fresh - done)]
    return found
