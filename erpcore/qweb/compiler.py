"""Compilation of a template tree into nested Python closures.

The tree is walked once per (template, language); a render then only calls the
pre-built closures, which append already-escaped HTML chunks to a list.
Directives on one element nest like in Odoo, from outermost to innermost:
``t-foreach``, ``t-if``/``t-elif``/``t-else``, ``t-set``, ``t-call``,
``t-att*``, then ``t-esc``/``t-out``.
"""

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree
from markupsafe import Markup, escape

from .errors import QWebError, directive_error
from .expressions import Evaluator, compile_expr, compile_format

Renderer = Callable[[dict[str, Any], list[str]], None]
#: what compiling a piece of template gives: a renderer, or the escaped HTML itself
#: when it holds no directive (constant pieces are folded at compile time)
Part = str | Renderer
Lookup = Callable[[str], Renderer]

VOID_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
_DIRECTIVES = frozenset(
    {
        "t-foreach",
        "t-as",
        "t-if",
        "t-elif",
        "t-else",
        "t-set",
        "t-value",
        "t-call",
        "t-esc",
        "t-out",
        "t-att",
        "t-translation",
        "t-name",
    }
)


def compile_template(key: str, arch: etree._Element, lookup: Lookup) -> Renderer:
    """Compile the children of ``arch`` (the template body) into a renderer.

    ``arch`` is modified (comments are removed), so pass a tree you own.

    :param key: the template key, used in error messages.
    :param lookup: gives the renderer of another template; it is called at
        render time so templates may call templates added later, or themselves.
    :raises QWebError: on a syntax error or a misplaced or unknown directive.
    """
    etree.strip_elements(arch, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return _renderer(_Compiler(key, lookup).children(arch))


class _Compiler:
    """Holds what every closure of one template needs: its key and the lookup."""

    def __init__(self, key: str, lookup: Lookup) -> None:
        self.key = key
        self.lookup = lookup

    def children(self, parent: etree._Element) -> Part:
        """The content of ``parent``: its text, children and their tails."""
        parts: list[Part | None] = [_text(parent.text)]
        kids = list(parent)
        index = 0
        while index < len(kids):
            chain = self._chain(kids, index)
            node = None
            for member in reversed(chain):
                node = self._element(member, node)
            parts += [node, _text(chain[-1].tail)]
            index += len(chain)
        return _sequence(parts)

    def _chain(self, kids: list[etree._Element], start: int) -> list[etree._Element]:
        """The element at ``start``, plus its ``t-elif``/``t-else`` siblings if it has ``t-if``.

        Only whitespace may separate the members; it is not output.
        """
        first = kids[start]
        if "t-elif" in first.attrib or "t-else" in first.attrib:
            raise QWebError(
                f"template {self.key!r}: t-elif/t-else on <{first.tag}> without a preceding t-if"
            )
        chain = [first]
        while "t-if" in first.attrib and start + len(chain) < len(kids):
            last, candidate = chain[-1], kids[start + len(chain)]
            if "t-else" in last.attrib or (last.tail or "").strip():
                break
            if "t-elif" not in candidate.attrib and "t-else" not in candidate.attrib:
                break
            chain.append(candidate)
        return chain

    def _element(self, el: etree._Element, orelse: Part | None) -> Part:
        """One element; ``orelse`` renders the rest of its if-chain."""
        for name in el.attrib:
            if (
                name.startswith("t-")
                and name not in _DIRECTIVES
                and not name.startswith(("t-att-", "t-attf-"))
            ):
                raise QWebError(f"template {self.key!r}: unknown directive {name} on <{el.tag}>")
        if "t-set" in el.attrib:
            node = self._set(el)
        elif el.tag == "t":
            node = self._content(el)
        else:
            node = self._tag(el, self._content(el))
        for name in ("t-if", "t-elif"):
            if name in el.attrib:
                node = self._condition(self._expr(el, name), _renderer(node),
                                       None if orelse is None else _renderer(orelse))
        if "t-foreach" in el.attrib:
            node = self._foreach(el, _renderer(node))
        return node

    def _expr(self, el: etree._Element, name: str) -> Evaluator:
        return compile_expr(self.key, f'{name}="{el.get(name)}"', el.get(name))

    def _content(self, el: etree._Element) -> Part:
        if "t-call" in el.attrib:
            return self._call(el)
        for name in ("t-out", "t-esc"):
            if el.get(name, "").strip() == "0":
                return _output(_called_body)
            if name in el.attrib:
                return _output(self._expr(el, name))
        return self.children(el)

    def _condition(self, test: Evaluator, node: Renderer, orelse: Renderer | None) -> Renderer:
        def render(values: dict[str, Any], out: list[str]) -> None:
            if test(values):
                node(values, out)
            elif orelse is not None:
                orelse(values, out)

        return render

    def _foreach(self, el: etree._Element, node: Renderer) -> Renderer:
        """Loop rendering ``node`` in a copy of the values, so nothing leaks out."""
        iterable, label = self._expr(el, "t-foreach"), f't-foreach="{el.get("t-foreach")}"'
        name = el.get("t-as")
        if not name:
            raise QWebError(f"template {self.key!r}: {label} without t-as")
        names = [name + suffix for suffix in ("", "_value", "_index", "_first", "_last", "_size")]

        def render(values: dict[str, Any], out: list[str]) -> None:
            items = iterable(values)
            try:
                if isinstance(items, int):
                    items = range(items)
                if isinstance(items, Mapping):
                    pairs = list(items.items())
                else:
                    pairs = [(item, item) for item in items]
            except TypeError as exc:
                raise directive_error(self.key, label, exc) from exc
            scope, size = dict(values), len(pairs)
            for index, (item, value) in enumerate(pairs):
                loop = (item, value, index, index == 0, index == size - 1, size)
                scope.update(zip(names, loop, strict=True))
                node(scope, out)

        return render

    def _set(self, el: etree._Element) -> Renderer:
        """``t-set``: store ``t-value``, or else the rendered body as Markup."""
        name = el.get("t-set")
        value = self._expr(el, "t-value") if "t-value" in el.attrib \
            else _capture(_renderer(self.children(el)))

        def render(values: dict[str, Any], out: list[str]) -> None:
            values[name] = value(values)

        return render

    def _call(self, el: etree._Element) -> Renderer:
        """``t-call``: the callee renders in a copy of the values plus ``0``, the body."""
        label = f't-call="{el.get("t-call")}"'
        target = compile_format(self.key, label, el.get("t-call"))
        body = _capture(_renderer(self.children(el)))

        def render(values: dict[str, Any], out: list[str]) -> None:
            scope = dict(values)
            scope["0"] = body(scope)
            try:
                callee = self.lookup(target(scope))
            except QWebError as exc:
                raise directive_error(self.key, label, exc) from exc
            callee(scope, out)

        return render

    def _tag(self, el: etree._Element, content: Part) -> Part:
        """Output the element itself, HTML5 style: void elements have no end tag.

        An element with constant attributes and content is a constant itself.
        """
        tag, attributes = el.tag, self._attributes(el)
        end = None if tag in VOID_ELEMENTS else f"</{tag}>"
        if isinstance(attributes, str):
            if end is None:
                return f"<{tag}{attributes}>"
            if isinstance(content, str):
                return f"<{tag}{attributes}>{content}{end}"
            return _sequence([f"<{tag}{attributes}>", content, end])
        body = _renderer(content)

        def render(values: dict[str, Any], out: list[str]) -> None:
            out.append(f"<{tag}{attributes(values)}>")
            if end is not None:
                body(values, out)
                out.append(end)

        return render

    def _attributes(self, el: etree._Element) -> str | Callable[[dict[str, Any]], str]:
        """Static and dynamic attributes, merged in source order; a string when all
        are static."""
        ops: list[tuple[str | None, Any]] = []
        for name, source in el.attrib.items():
            label = f'{name}="{source}"'
            if name.startswith("t-attf-"):
                ops.append((name[7:], compile_format(self.key, label, source)))
            elif name.startswith("t-att-"):
                ops.append((name[6:], self._expr(el, name)))
            elif name == "t-att":
                ops.append((None, self._expr(el, name)))
            elif not name.startswith("t-"):
                ops.append((name, source))
        if all(isinstance(source, str) for _, source in ops):
            return _format_attributes(dict(ops))

        def render(values: dict[str, Any]) -> str:
            attrs: dict[str, str] = {}
            for name, source in ops:
                if isinstance(source, str):
                    attrs[name] = source
                elif name is not None:
                    _put(attrs, name, source(values))
                else:
                    for pair_name, value in _pairs(self.key, el.get("t-att"), source(values)):
                        _put(attrs, pair_name, value)
            return _format_attributes(attrs)

        return render


def _text(text: str | None) -> str | None:
    return str(escape(text)) if text else None


def _sequence(parts: list[Part | None]) -> Part:
    """Consecutive parts, adjacent constant strings merged: a string when all are."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part is not None:
            merged.append(part)
    if not merged:
        return ""
    if len(merged) == 1:
        return merged[0]
    renderers = [_renderer(part) for part in merged]

    def render(values: dict[str, Any], out: list[str]) -> None:
        for renderer in renderers:
            renderer(values, out)

    return render


def _renderer(part: Part) -> Renderer:
    """A renderer of *part*: itself, or one that outputs the constant string."""
    if isinstance(part, str):
        return lambda values, out: out.append(part)
    return part


def _capture(body: Renderer) -> Callable[[dict[str, Any]], Markup]:
    """Render ``body`` into a Markup value instead of the output."""

    def render(values: dict[str, Any]) -> Markup:
        chunks: list[str] = []
        body(values, chunks)
        return Markup("".join(chunks))  # noqa: S704 - chunks are escaped when compiled

    return render


def _output(value: Evaluator) -> Renderer:
    """``t-esc``/``t-out``: escape unless Markup; ``None`` and ``False`` give nothing."""

    def render(values: dict[str, Any], out: list[str]) -> None:
        result = value(values)
        if result is not None and result is not False:
            out.append(str(escape(result)))

    return render


def _called_body(values: dict[str, Any]) -> Any:
    """``t-out="0"`` is not the integer zero but the body passed by ``t-call``, as in Odoo."""
    return values.get("0")


def _put(attrs: dict[str, str], name: str, value: Any) -> None:
    """Set a dynamic attribute: ``None``/``False`` drop it, ``True`` gives ``name="name"``."""
    if value is None or value is False:
        attrs.pop(name, None)
    else:
        attrs[name] = name if value is True else str(value)


def _pairs(key: str, source: str, value: Any) -> list[tuple[str, Any]]:
    """The (name, value) pairs given by ``t-att``: a mapping or a single pair."""
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
        return [tuple(value)]
    if value is None or value is False:
        return []
    error = TypeError(f"expected a dict or a (name, value) pair, got {type(value).__name__}")
    raise directive_error(key, f't-att="{source}"', error)


def _format_attributes(attrs: dict[str, str]) -> str:
    """Attribute values are always escaped as text, so quotes can never break out."""
    return "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())
