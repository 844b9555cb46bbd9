"""Template inheritance: ``<xpath expr="..." position="...">`` specs applied to a copy."""

from collections.abc import Callable
from copy import deepcopy

from lxml import etree

from .errors import QWebError


def apply_inheritance(base: etree._Element, inherit: etree._Element) -> etree._Element:
    """Apply the ``<xpath>`` children of ``inherit`` to a copy of ``base``.

    Inputs are never mutated, so the base stays reusable for other languages and
    a failed inheritance cannot leave a half-patched template behind.

    :param base: the template being extended.
    :param inherit: a ``<template inherit_id="...">`` whose children are
        ``<xpath expr="..." position="before|after|inside|replace|attributes">``.
    :returns: the new, patched tree.
    :raises QWebError: on an unsupported spec or position, an invalid xpath or
        an xpath matching nothing.
    """
    tree = deepcopy(base)
    for spec in inherit:
        if not isinstance(spec.tag, str):
            continue
        if spec.tag != "xpath":
            raise QWebError(f"unsupported inheritance spec <{spec.tag}>: use <xpath>")
        _apply_spec(tree, spec)
    return tree


def _apply_spec(tree: etree._Element, spec: etree._Element) -> None:
    expr, position = spec.get("expr"), spec.get("position", "inside")
    apply = _POSITIONS.get(position)
    if apply is None:
        raise QWebError(f'xpath expr="{expr}": unknown position "{position}"')
    try:
        matches = tree.xpath(expr) if expr else []
    except etree.XPathError as exc:
        raise QWebError(f'invalid xpath expr="{expr}": {exc}') from exc
    targets = [node for node in matches if isinstance(node, etree._Element)]
    if not targets:
        raise QWebError(f'xpath expr="{expr}" matched nothing')
    apply(targets[0], spec)


def _inside(target: etree._Element, spec: etree._Element) -> None:
    _insert(target, len(target), spec)


def _before(target: etree._Element, spec: etree._Element) -> None:
    parent = _parent(target, spec)
    _insert(parent, parent.index(target), spec)


def _after(target: etree._Element, spec: etree._Element) -> None:
    """Insert right after the target, so before its tail, which is text of the parent."""
    parent = _parent(target, spec)
    index, tail = parent.index(target) + 1, target.tail
    target.tail = None
    _insert(parent, index, spec)
    _add_text(parent, index + len(spec), tail)


def _replace(target: etree._Element, spec: etree._Element) -> None:
    """Replace the target but keep its tail, which is text of the parent."""
    parent = _parent(target, spec)
    index, tail = parent.index(target), target.tail
    parent.remove(target)
    _insert(parent, index, spec)
    _add_text(parent, index + len(spec), tail)


def _attributes(target: etree._Element, spec: etree._Element) -> None:
    """Set each ``<attribute name="x">value</attribute>``; an empty value removes it."""
    for attribute in spec:
        if not isinstance(attribute.tag, str):
            continue
        name = attribute.get("name")
        if attribute.tag != "attribute" or not name:
            raise QWebError(f'xpath expr="{spec.get("expr")}": expected <attribute name="...">')
        if attribute.text:
            target.set(name, attribute.text)
        else:
            target.attrib.pop(name, None)


_POSITIONS: dict[str, Callable[[etree._Element, etree._Element], None]] = {
    "inside": _inside,
    "before": _before,
    "after": _after,
    "replace": _replace,
    "attributes": _attributes,
}


def _parent(target: etree._Element, spec: etree._Element) -> etree._Element:
    parent = target.getparent()
    if parent is None:
        raise QWebError(
            f'xpath expr="{spec.get("expr")}": position "{spec.get("position")}"'
            " is not allowed on the template root"
        )
    return parent


def _insert(parent: etree._Element, index: int, spec: etree._Element) -> None:
    """Insert copies of the spec's text and children into ``parent`` at ``index``."""
    _add_text(parent, index, spec.text)
    for offset, child in enumerate(spec):
        parent.insert(index + offset, deepcopy(child))


def _add_text(parent: etree._Element, index: int, text: str | None) -> None:
    """Append ``text`` right before child ``index``: to the tail of the previous child."""
    if not text:
        return
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        previous = parent[index - 1]
        previous.tail = (previous.tail or "") + text
