"""Compilation of a template tree into one Python function.

The tree is walked once per (template, language) into the source of a function
``render(values, out)``, which is compiled once; a render then runs straight
Python code that appends already-escaped HTML chunks to ``out``. Constant HTML
is merged into single strings when compiling, directives become ``if`` and
``for`` statements, and each expression is a code object evaluated with the
render values as its globals (see :mod:`.expressions`), through a helper that
names the directive in any error, so the generated code holds no ``try``.

Directives on one element nest like in Odoo, from outermost to innermost:
``t-foreach``, ``t-if``/``t-elif``/``t-else``, ``t-set``, ``t-call``,
``t-att*``, then ``t-esc``/``t-out``.

The generated source never holds template text as code: texts, tag and
attribute names and variable names are written as ``repr`` literals, and the
expressions' code objects and the directive labels are globals of the
function. Expressions are code by design (templates are trusted addon files).
"""

import builtins
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any

from lxml import etree
from markupsafe import Markup, escape

from .errors import QWebError, directive_error
from .expressions import Scope, compile_expr, compile_format, to_text

#: a compiled template: ``renderer(scope, out)``, with ``scope`` made by
#: :func:`.expressions.new_scope` and ``out`` the list of HTML chunks
Renderer = Callable[[Scope, list[str]], None]
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
_LOOP_SUFFIXES = ("", "_value", "_index", "_first", "_last", "_size")


def compile_template(key: str, arch: etree._Element, lookup: Lookup) -> Renderer:
    """Compile the children of ``arch`` (the template body) into a renderer.

    ``arch`` is modified (comments are removed), so pass a tree you own.

    :param key: the template key, used in error messages.
    :param lookup: gives the renderer of another template; it is called at
        render time so templates may call templates added later, or themselves.
    :raises QWebError: on a syntax error or a misplaced or unknown directive.
    """
    etree.strip_elements(arch, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    generator = _Generator(key, lookup)
    try:
        generator.children(arch)
        return generator.function()
    except (RecursionError, SyntaxError) as exc:
        # Python's own limits on the generated function (about 20 nested loops or
        # 100 nested conditions) or on the compiler's recursion (about 150 levels)
        raise QWebError(
            f"template {key!r}: too deeply nested to compile ({type(exc).__name__})"
        ) from exc


class _Generator:
    """Writes the source of one template's function, line by line.

    Constant HTML waits in ``pending`` and is appended as one string just
    before the next statement or at the end of a block. Output goes to the
    list named by ``out`` (through ``append``), which a ``t-set`` or
    ``t-call`` body switches to a list of its own.
    """

    def __init__(self, key: str, lookup: Lookup) -> None:
        self.key = key
        self.lookup = lookup
        self.lines = ["def render(values, out):", "    append = out.append"]
        self.depth = 1
        self.pending: list[str] = []
        self.out, self.append = "out", "append"
        self.count = 0
        self.namespace: dict[str, Any] = {
            "__builtins__": builtins,
            "_key": key,
            "_eval": _evaluator(key),
            "_find": _finder(key, lookup),
            "_Scope": Scope,
            "_Markup": Markup,
            "_escape": escape,
            "_text": to_text,
            "_loop_pairs": _loop_pairs,
            "_att_pairs": _att_pairs,
            "_put": _put,
            "_attribute": _attribute,
            "_format_attributes": _format_attributes,
        }

    def function(self) -> Renderer:
        """Compile the source written so far; the result is the renderer."""
        self._flush()
        source = "\n".join(self.lines) + "\n"
        code = compile(source, f"<qweb template {self.key}>", "exec")
        exec(code, self.namespace)  # noqa: S102 - see the module docstring
        renderer: Renderer = self.namespace["render"]
        return renderer

    # --- writing source ------------------------------------------------------------

    def text(self, html: str | None) -> None:
        """Output constant, already escaped HTML."""
        if html:
            self.pending.append(html)

    def line(self, statement: str) -> None:
        self._flush()
        self.lines.append("    " * self.depth + statement)

    def _flush(self) -> None:
        if self.pending:
            html = "".join(self.pending)
            self.pending.clear()
            self.lines.append("    " * self.depth + f"{self.append}({html!r})")

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """A compound statement: ``header`` then the lines written inside."""
        self.line(header)
        self.depth += 1
        start = len(self.lines)
        yield
        self._flush()
        if len(self.lines) == start:
            self.lines.append("    " * self.depth + "pass")
        self.depth -= 1

    @contextmanager
    def capture(self, target: str) -> Iterator[None]:
        """Output written inside goes to a new list, stored in ``target`` as Markup."""
        out, append = self._local("out"), self._local("append")
        self.line(f"{out} = []")
        self.line(f"{append} = {out}.append")
        outer = self.out, self.append
        self.out, self.append = out, append
        yield
        self._flush()
        self.out, self.append = outer
        self.line(f"{target} = _Markup(''.join({out}))")

    @contextmanager
    def inner_scope(self) -> Iterator[None]:
        """Inside, ``values`` is a copy: what is set there does not leak out."""
        outer = self._local("values")
        self.line(f"{outer} = values")
        self.line("values = _Scope(values)")
        yield
        self.line(f"values = {outer}")

    def _local(self, prefix: str) -> str:
        self.count += 1
        return f"_{prefix}{self.count}"

    def _global(self, prefix: str, value: Any) -> str:
        name = self._local(prefix)
        self.namespace[name] = value
        return name

    def expression(self, directive: str, source: str) -> str:
        """Python source giving the value of expression ``source`` at render time."""
        return self._expression(directive, source)[0]

    def _expression(self, directive: str, source: str) -> tuple[str, str]:
        """The source of :meth:`expression`, and the global holding the directive's
        label, for other messages."""
        label = f'{directive}="{source}"'
        code = self._global("code", compile_expr(self.key, label, source))
        label_name = self._global("label", label)
        return f"_eval({code}, values, {label_name})", label_name

    def format(self, directive: str, source: str) -> str:
        """Python source giving the text of format string ``source`` (``{{expr}}``,
        ``#{expr}``) at render time."""
        label = f'{directive}="{source}"'
        pieces = compile_format(self.key, label, source)
        if all(isinstance(piece, str) for piece in pieces):
            return repr("".join(pieces))  # type: ignore[arg-type]
        label_name = self._global("label", label)
        texts = ", ".join(
            repr(piece)
            if isinstance(piece, str)
            else f"_text(_eval({self._global('code', piece)}, values, {label_name}))"
            for piece in pieces
        )
        return f"''.join(({texts},))"

    # --- the template tree ------------------------------------------------------------

    def children(self, parent: etree._Element) -> None:
        """The content of ``parent``: its text, children and their tails."""
        self.text(_escaped(parent.text))
        kids = list(parent)
        index = 0
        while index < len(kids):
            chain = self._chain(kids, index)
            self._element(chain, 0)
            self.text(_escaped(chain[-1].tail))
            index += len(chain)

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

    def _element(self, chain: list[etree._Element], index: int) -> None:
        """Member ``index`` of an if-chain; the members after it are its else branch."""
        el = chain[index]
        for name in el.attrib:
            if (
                name.startswith("t-")
                and name not in _DIRECTIVES
                and not name.startswith(("t-att-", "t-attf-"))
            ):
                raise QWebError(f"template {self.key!r}: unknown directive {name} on <{el.tag}>")
        conditions = [name for name in ("t-elif", "t-if") if name in el.attrib]
        if "t-foreach" in el.attrib:
            self._foreach(el, lambda: self._conditions(chain, index, conditions))
        else:
            self._conditions(chain, index, conditions)

    def _conditions(self, chain: list[etree._Element], index: int, names: list[str]) -> None:
        """The tests of member ``index`` (outermost first), then its else branch.

        The members that follow with a ``t-elif`` alone become ``elif``
        clauses, so that a long chain does not nest.
        """
        el = chain[index]
        if not names:
            self._body(el)
            return
        with self.block(f"if {self.expression(names[0], el.get(names[0]))}:"):
            self._conditions(chain, index, names[1:])
        index += 1
        while index < len(chain) and _plain_elif(chain[index]):
            member = chain[index]
            with self.block(f"elif {self.expression('t-elif', member.get('t-elif'))}:"):
                self._body(member)
            index += 1
        if index < len(chain):
            with self.block("else:"):
                self._element(chain, index)

    def _body(self, el: etree._Element) -> None:
        if "t-set" in el.attrib:
            self._set(el)
        elif el.tag == "t":
            self._content(el)
        else:
            self._tag(el)

    def _foreach(self, el: etree._Element, body: Callable[[], None]) -> None:
        """Loop over ``body`` in a copy of the values, so nothing leaks out."""
        items, label = self._expression("t-foreach", el.get("t-foreach"))
        name = el.get("t-as")
        if not name:
            raise QWebError(
                f'template {self.key!r}: t-foreach="{el.get("t-foreach")}" without t-as'
            )
        pairs, size = self._local("pairs"), self._local("size")
        index, item, value = self._local("index"), self._local("item"), self._local("value")
        self.line(f"{pairs} = _loop_pairs(_key, {label}, {items})")
        with self.inner_scope():
            self.line(f"{size} = len({pairs})")
            with self.block(f"for {index}, ({item}, {value}) in enumerate({pairs}):"):
                loop = (item, value, index, f"{index} == 0", f"{index} == {size} - 1", size)
                for suffix, expression in zip(_LOOP_SUFFIXES, loop, strict=True):
                    self.line(f"values[{name + suffix!r}] = {expression}")
                body()

    def _set(self, el: etree._Element) -> None:
        """``t-set``: store ``t-value``, or else the rendered body as Markup."""
        target = f"values[{el.get('t-set')!r}]"
        if "t-value" in el.attrib:
            self.line(f"{target} = {self.expression('t-value', el.get('t-value'))}")
        else:
            with self.capture(target):
                self.children(el)

    def _content(self, el: etree._Element) -> None:
        if "t-call" in el.attrib:
            self._call(el)
            return
        for name in ("t-out", "t-esc"):
            if el.get(name, "").strip() == "0":
                # not the integer zero but the body passed by t-call, as in Odoo
                self.line("value = values.get('0')")
            elif name in el.attrib:
                self.line(f"value = {self.expression(name, el.get(name))}")
            else:
                continue
            # None and False give nothing; Markup passes through unescaped
            with self.block("if value is not None and value is not False:"):
                self.line(f"{self.append}(_escape(value))")
            return
        self.children(el)

    def _call(self, el: etree._Element) -> None:
        """``t-call``: the callee renders in a copy of the values plus ``0``, the body."""
        source = el.get("t-call")
        with self.inner_scope():
            with self.capture("values['0']"):
                self.children(el)
            label = self._global("label", f't-call="{source}"')
            target = self.format("t-call", source)
            self.line(f"_find({target}, {label})(values, {self.out})")

    def _tag(self, el: etree._Element) -> None:
        """Output the element itself, HTML5 style: void elements have no end tag.

        The content of a void element is never output, but it is compiled all
        the same (and thrown away), so that its mistakes are reported.
        """
        self.text(f"<{el.tag}")
        self._attributes(el)
        self.text(">")
        if el.tag in VOID_ELEMENTS:
            _Generator(self.key, self.lookup).children(el)
        else:
            self._content(el)
            self.text(f"</{el.tag}>")

    def _attributes(self, el: etree._Element) -> None:
        """Static and dynamic attributes, in source order.

        Each is output in its place unless ``t-att`` or a name given twice (a
        dynamic value overriding a static one) asks for merging them by name.
        """
        names = [_attribute_name(name) for name in el.attrib]
        output_names = [name for name in names if name is not None]
        if "t-att" not in el.attrib and len(set(output_names)) == len(output_names):
            for (name, source), output in zip(el.attrib.items(), names, strict=True):
                if name.startswith(("t-att-", "t-attf-")):
                    value = self._dynamic_value(name, source)
                    self.line(f"{self.append}(_attribute({output!r}, {value}))")
                elif output is not None:
                    self.text(_format_attributes({name: source}))
            return
        self.line("attrs = {}")
        for (name, source), output in zip(el.attrib.items(), names, strict=True):
            if name == "t-att":
                value, label = self._expression(name, source)
                with self.block(f"for name, item in _att_pairs(_key, {label}, {value}):"):
                    self.line("_put(attrs, name, item)")
            elif name.startswith(("t-att-", "t-attf-")):
                self.line(f"_put(attrs, {output!r}, {self._dynamic_value(name, source)})")
            elif output is not None:
                self.line(f"attrs[{name!r}] = {source!r}")
        self.line(f"{self.append}(_format_attributes(attrs))")

    def _dynamic_value(self, name: str, source: str) -> str:
        """Python source giving the value of a ``t-att-NAME`` or ``t-attf-NAME``."""
        if name.startswith("t-attf-"):
            return self.format(name, source)
        return self.expression(name, source)


def _plain_elif(el: etree._Element) -> bool:
    """Whether an if-chain member is a plain ``elif`` clause: a ``t-elif``, without
    ``t-if`` or ``t-foreach`` of its own."""
    return "t-elif" in el.attrib and "t-if" not in el.attrib and "t-foreach" not in el.attrib


def _evaluator(key: str) -> Callable[[CodeType, Scope, str], Any]:
    """The function that evaluates the expressions of template ``key`` at render time."""

    def evaluate(code: CodeType, values: Scope, label: str) -> Any:
        try:
            return eval(code, values)  # noqa: S307 - trusted templates
        except Exception as exc:
            raise directive_error(key, label, exc) from exc

    return evaluate


def _finder(key: str, lookup: Lookup) -> Callable[[str, str], Renderer]:
    """The function that finds the template a ``t-call`` of template ``key`` names."""

    def find(target: str, label: str) -> Renderer:
        try:
            return lookup(target)
        except QWebError as exc:
            raise directive_error(key, label, exc) from exc

    return find


def _attribute_name(name: str) -> str | None:
    """The output name of an attribute or attribute directive; ``None`` for other
    directives."""
    for prefix in ("t-attf-", "t-att-"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return None if name.startswith("t-") else name


def _escaped(text: str | None) -> str | None:
    return str(escape(text)) if text else None


def _loop_pairs(key: str, label: str, items: Any) -> list[tuple[Any, Any]]:
    """The (item, value) pairs of ``t-foreach``: an int counts, a mapping gives its items."""
    try:
        if isinstance(items, int):
            items = range(items)
        if isinstance(items, Mapping):
            return list(items.items())
        return [(item, item) for item in items]
    except TypeError as exc:
        raise directive_error(key, label, exc) from exc


def _put(attrs: dict[str, str], name: str, value: Any) -> None:
    """Set a dynamic attribute: ``None``/``False`` drop it, ``True`` gives ``name="name"``."""
    if value is None or value is False:
        attrs.pop(name, None)
    else:
        attrs[name] = name if value is True else _text_of(value)


def _att_pairs(key: str, label: str, value: Any) -> list[tuple[str, Any]]:
    """The (name, value) pairs given by ``t-att``: a mapping or a single pair."""
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
        return [tuple(value)]
    if value is None or value is False:
        return []
    error = TypeError(f"expected a dict or a (name, value) pair, got {type(value).__name__}")
    raise directive_error(key, label, error)


def _attribute(name: str, value: Any) -> str:
    """One dynamic attribute's HTML; see :func:`_put` for the values' meaning."""
    if value is None or value is False:
        return ""
    return f' {name}="{escape(name if value is True else _text_of(value))}"'


def _text_of(value: Any) -> str:
    """The text of an attribute's value, as a plain string: an object whose
    ``__str__`` gives Markup must not pass unescaped."""
    return str.__str__(str(value))


def _format_attributes(attrs: dict[str, str]) -> str:
    """Attribute values are always escaped as text, so quotes can never break out."""
    return "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())
