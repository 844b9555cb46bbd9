"""The QWeb engine: a registry of templates and a cache of compiled renderers."""

from collections.abc import Callable, Mapping
from copy import deepcopy
from functools import partial
from typing import Any

from lxml import etree
from markupsafe import Markup

from .compiler import Renderer, compile_template
from .errors import QWebError
from .expressions import new_scope
from .inherit import apply_inheritance
from .terms import translate_tree


class QWeb:
    """Render QWeb templates to HTML5.

    A template is compiled on the first render for each language: inheritance
    is applied, terms are translated, then the tree becomes a Python function.
    Later renders reuse it; adding a template or an inheritance clears the cache
    because any compiled template may depend on the changed one.

    :param translate: ``translate(lang, text)`` gives the translation of a
        term; ``None`` leaves texts unchanged.
    """

    def __init__(self, translate: Callable[[str, str], str] | None = None) -> None:
        self._translate = translate
        self._templates: dict[str, etree._Element] = {}
        self._inherits: dict[str, list[etree._Element]] = {}
        self._compiled: dict[tuple[str, str], Renderer] = {}

    def add_template(self, key: str, arch: etree._Element) -> None:
        """Register (or replace) a template; the children of ``arch`` are its body."""
        self._templates[key] = deepcopy(arch)
        self._compiled.clear()

    def add_inheritance(self, key: str, arch: etree._Element) -> None:
        """Register ``<xpath>`` specs extending template ``key``, applied in the order added.

        The base template may be added later: inheritance is resolved at compile time.
        """
        self._inherits.setdefault(key, []).append(deepcopy(arch))
        self._compiled.clear()

    def has(self, key: str) -> bool:
        """Whether a template ``key`` is registered."""
        return key in self._templates

    def keys(self) -> list[str]:
        """The registered template keys, in the order added."""
        return list(self._templates)

    def render(self, key: str, values: Mapping[str, Any], lang: str = "en") -> Markup:
        """Render template ``key`` in ``lang``; ``values`` is copied, never modified.

        :raises QWebError: on an unknown template or any compile or render error.
        """
        out: list[str] = []
        self._renderer(key, lang)(new_scope(values), out)
        return Markup("".join(out))  # noqa: S704 - every chunk is already escaped

    def _renderer(self, key: str, lang: str) -> Renderer:
        renderer = self._compiled.get((key, lang))
        if renderer is None:
            arch = self._resolve(key)
            if self._translate is not None:
                translate_tree(arch, partial(self._translate, lang))
            renderer = compile_template(key, arch, partial(self._renderer, lang=lang))
            self._compiled[key, lang] = renderer
        return renderer

    def _resolve(self, key: str) -> etree._Element:
        """A new tree of template ``key`` with all its inheritances applied."""
        if key not in self._templates:
            raise QWebError(f"template {key!r} not found")
        arch = deepcopy(self._templates[key])
        for inherit in self._inherits.get(key, []):
            try:
                arch = apply_inheritance(arch, inherit)
            except QWebError as exc:
                raise QWebError(f"template {key!r}: inheritance: {exc}") from exc
        return arch
