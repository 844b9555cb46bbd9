"""Translatable terms of a template: finding them, and replacing them for a language.

Extraction (for Babel) and translation walk the tree with the same generator,
so ``extract_terms`` returns exactly the strings that ``translate`` receives.
"""

from collections.abc import Callable, Iterator

from lxml import etree

_TRANSLATED_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label", "label")
_BUTTON_TYPES = ("submit", "button")
_CODE_ELEMENTS = ("script", "style")

# (line, term, apply): ``apply(translation)`` writes the translation back in place.
_Term = tuple[int, str, Callable[[str], None]]


def extract_terms(arch: etree._Element) -> list[tuple[int, str]]:
    """List the translatable terms of a template, for a Babel extractor.

    :param arch: the template element; it is not modified.
    :returns: ``(line number, term)`` pairs in document order; a text's line
        is the line of the element holding it (or preceding it, for a tail).
    """
    return [(line, term) for line, term, _ in _terms(arch)]


def translate_tree(arch: etree._Element, translate: Callable[[str], str]) -> None:
    """Replace every term of ``arch`` in place by ``translate(term)``.

    Surrounding whitespace is kept, so the rendered layout does not change.
    """
    for _, term, apply in list(_terms(arch)):
        apply(translate(term))


def _terms(el: etree._Element) -> Iterator[_Term]:
    """Terms of ``el``: its text, translated attributes, children, children's tails.

    ``t-translation="off"`` skips the whole subtree; ``<script>`` and ``<style>``
    hold code, so their text is never a term. Directive attributes (``t-*``)
    are never translated.
    """
    if el.get("t-translation", "").strip() == "off":
        return
    line = el.sourceline or 0
    code = el.tag in _CODE_ELEMENTS
    if not code:
        yield from _text_term(line, el.text, lambda text: setattr(el, "text", text))
    names = list(_TRANSLATED_ATTRIBUTES)
    if el.tag == "input" and el.get("type") in _BUTTON_TYPES:
        names.append("value")
    for name in names:
        yield from _text_term(line, el.get(name), lambda text, name=name: el.set(name, text))
    for child in el:
        if isinstance(child.tag, str):
            yield from _terms(child)
        if not code:
            yield from _text_term(
                child.sourceline or line,
                child.tail,
                lambda text, child=child: setattr(child, "tail", text),
            )


def _text_term(line: int, text: str | None, setter: Callable[[str], None]) -> Iterator[_Term]:
    """The term of one text, if it has a letter (not only punctuation or digits)."""
    term = (text or "").strip()
    if not any(char.isalpha() for char in term):
        return
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    yield line, term, lambda translation: setter(lead + translation + trail)
