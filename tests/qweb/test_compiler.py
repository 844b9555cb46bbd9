"""Rendering of every QWeb directive, HTML5 output, escaping, caching and errors."""

import pytest
from lxml import etree

import erpcore.qweb.engine as engine_module
from erpcore.qweb import Markup, QWeb, QWebError

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def engine_with(**templates: str) -> QWeb:
    """An engine holding ``key=body`` templates (dots in keys written as ``__``)."""
    engine = QWeb()
    for key, body in templates.items():
        key = key.replace("__", ".")
        engine.add_template(key, etree.fromstring(f'<template id="{key}">{body}</template>'))
    return engine


def render(body: str, **values: object) -> str:
    return str(engine_with(main=body).render("main", values))


# --- t-esc / t-out ----------------------------------------------------------------


@pytest.mark.parametrize("directive", ["t-esc", "t-out"])
def test_output_escapes_plain_values(directive):
    assert render(f'<p {directive}="v"/>', v=XSS) == f"<p>{XSS_ESCAPED}</p>"
    assert render(f'<t {directive}="v"/>', v=XSS) == XSS_ESCAPED


@pytest.mark.parametrize("directive", ["t-esc", "t-out"])
def test_output_passes_markup_through(directive):
    assert render(f'<div {directive}="v"/>', v=Markup("<b>bold</b>")) == "<div><b>bold</b></div>"


def test_output_on_element_replaces_content_and_on_t_replaces_element():
    html = render('<p class="c" t-out="v">old <b>content</b></p>', v="new")
    assert html == '<p class="c">new</p>'
    assert render('<t t-out="v">old</t>', v="new") == "new"


def test_output_none_and_false_render_nothing_but_zero_does():
    assert render('<p t-esc="v"/>', v=None) == "<p></p>"
    assert render('<t t-out="v"/>|<t t-out="w"/>', v=False, w=0) == "|0"


def test_static_text_is_escaped():
    assert render("<p>a &lt;script&gt;alert(1)&lt;/script&gt; &amp; b</p>") == (
        f"<p>a {XSS_ESCAPED} &amp; b</p>"
    )


# --- HTML5 output ---------------------------------------------------------------


def test_void_elements_have_no_end_tag_and_empty_elements_do():
    html = render('<input name="q"/><br/><img src="a.png"/><div/><script/><textarea/><span/>')
    assert html == (
        '<input name="q"><br><img src="a.png">'
        "<div></div><script></script><textarea></textarea><span></span>"
    )


def test_comments_are_dropped_and_whitespace_is_kept():
    html = render("\n  <ul>\n    <!-- note -->\n    <li>a</li>  <!-- x -->tail\n  </ul>\n")
    assert html == "\n  <ul>\n    \n    <li>a</li>  tail\n  </ul>\n"


def test_template_texts_and_names_are_never_run_as_code():
    """The compiler writes Python source: quotes, backslashes and newlines in a
    text, an attribute or a variable name must stay data."""
    tricky = "a'b\"c\\d\n')\nraise SystemExit('e"
    root = etree.Element("template")
    p = etree.SubElement(root, "p", {"title": tricky, "t-att-lang": "'fr'"})
    p.text = tricky
    etree.SubElement(root, "t", {"t-set": tricky, "t-value": "1"})
    loop = etree.SubElement(root, "t", {"t-foreach": "[2]", "t-as": tricky})
    loop.text = "|"
    engine = QWeb()
    engine.add_template("main", root)
    escaped = str(Markup.escape(tricky))
    assert engine.render("main", {}) == f'<p title="{escaped}" lang="fr">{escaped}</p>|'


def test_t_element_is_not_output():
    assert render("<t><b>x</b> y</t>") == "<b>x</b> y"


# --- attributes -----------------------------------------------------------------


def test_t_att_name_values():
    html = render(
        '<input t-att-value="v" t-att-checked="yes" t-att-disabled="no" t-att-title="none"/>',
        v='a"b',
        yes=True,
        no=False,
        none=None,
    )
    assert html == '<input value="a&#34;b" checked="checked">'


def test_t_att_escapes_script_and_quotes():
    assert render('<a t-att-title="v"/>', v=f'"{XSS}') == f'<a title="&#34;{XSS_ESCAPED}"></a>'


def test_static_and_dynamic_attributes_keep_their_source_order():
    html = render('<input type="text" t-att-value="v" t-attf-id="f-{{ v }}" name="q"/>', v="x")
    assert html == '<input type="text" value="x" id="f-x" name="q">'
    html = render('<li t-foreach="[1, 2]" t-as="n" class="a&amp;b" t-att-id="n"/>')
    assert html == '<li class="a&amp;b" id="1"></li><li class="a&amp;b" id="2"></li>'
    assert render('<input type="text" t-att-value="v" name="q"/>', v=None) == (
        '<input type="text" name="q">'
    )


class MarkupText:
    """A value whose ``str()`` is Markup (a record's display name, say)."""

    def __str__(self) -> str:
        return Markup(XSS)


def test_attribute_values_are_escaped_even_when_their_text_is_markup():
    assert render('<p t-att-title="v"/>', v=MarkupText()) == f'<p title="{XSS_ESCAPED}"></p>'
    html = render('<a t-attf-href="/x?a=1&amp;b={{ v }}"/>', v=MarkupText())
    assert html == f'<a href="/x?a=1&amp;b={XSS_ESCAPED}"></a>'  # the literal escaped once


def test_dynamic_attribute_overrides_static_in_place():
    html = render('<div class="a" id="x" t-att-class="c"/>', c="b")
    assert html == '<div class="b" id="x"></div>'
    assert render('<div class="a" t-att-class="c"/>', c=False) == "<div></div>"


def test_t_attf_both_syntaxes_and_escaping():
    html = render('<a t-attf-href="/u/{{ user_id }}?q=#{q}"/>', user_id=7, q=XSS)
    assert html == f'<a href="/u/7?q={XSS_ESCAPED}"></a>'
    assert render('<a t-attf-class="btn {{ extra }}"/>', extra=None) == '<a class="btn "></a>'


def test_t_att_dict_and_pair():
    html = render('<div t-att="attrs"/>', attrs={"data-x": XSS, "hidden": True, "gone": None})
    assert html == f'<div data-x="{XSS_ESCAPED}" hidden="hidden"></div>'
    assert render("<div t-att=\"('id', 5)\"/>") == '<div id="5"></div>'


def test_t_att_rejects_other_values():
    with pytest.raises(QWebError, match=r"template 'main': error in t-att=\"42\": TypeError"):
        render('<div t-att="42"/>')


# --- conditions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"), [(1, "<b>one</b>"), (2, "<i>two</i>"), (3, "<u>many</u>")]
)
def test_if_elif_else_chain_ignores_whitespace_between(n, expected):
    body = '<b t-if="n == 1">one</b>\n  <i t-elif="n == 2">two</i>\n  <u t-else="">many</u>|'
    assert render(body, n=n) == expected + "|"


def test_a_long_chain_of_elif_compiles():
    body = (
        '<t t-if="n == 0">0</t>'
        + "".join(f'<t t-elif="n == {i}">{i}</t>' for i in range(1, 150))
        + '<t t-else="">none</t>'
    )
    engine = engine_with(main=body)
    assert [str(engine.render("main", {"n": n})) for n in (0, 77, 149, 150)] == [
        "0",
        "77",
        "149",
        "none",
    ]


def test_templates_too_deep_for_python_are_a_qweb_error():
    loops = "".join(f'<t t-foreach="[1]" t-as="i{n}">' for n in range(25)) + "x" + "</t>" * 25
    with pytest.raises(QWebError, match="template 'main': too deeply nested to compile"):
        render(loops)
    with pytest.raises(QWebError, match="too deeply nested to compile"):
        render("<div>" * 240 + "</div>" * 240)  # lxml reads up to 255 levels


def test_if_without_else_renders_nothing_when_false():
    assert render('<p t-if="x">shown</p><p t-if="not x">hidden</p>', x=True) == "<p>shown</p>"


def test_text_between_if_and_else_breaks_the_chain():
    with pytest.raises(QWebError, match="t-elif/t-else on <p> without a preceding t-if"):
        render('<p t-if="x">a</p> text <p t-else="">b</p>', x=True)


# --- loops ----------------------------------------------------------------------


def test_foreach_loop_variables():
    body = (
        '<t t-foreach="items" t-as="it">'
        '<t t-esc="it"/>:<t t-esc="it_index"/>/<t t-esc="it_size"/>'
        '<t t-if="it_first">F</t><t t-if="it_last">L</t>,</t>'
    )
    assert render(body, items=["a", "b", "c"]) == "a:0/3F,b:1/3,c:2/3L,"


def test_foreach_over_int_generator_and_dict():
    assert render('<t t-foreach="3" t-as="i"><t t-esc="i"/></t>') == "012"
    items = (x * 2 for x in range(3))
    assert render('<t t-foreach="items" t-as="i"><t t-esc="i"/></t>', items=items) == "024"
    body = '<t t-foreach="d" t-as="k"><t t-esc="k"/>=<t t-esc="k_value"/>;</t>'
    assert render(body, d={"a": 1, "b": 2}) == "a=1;b=2;"


def test_nested_foreach_sees_outer_loop_variables():
    body = (
        '<tr t-foreach="rows" t-as="row">'
        '<td t-foreach="row" t-as="cell" t-esc="\'%s.%s=%s\' % (row_index, cell_index, cell)"/>'
        "</tr>"
    )
    html = render(body, rows=[[1, 2], [3]])
    assert html == "<tr><td>0.0=1</td><td>0.1=2</td></tr><tr><td>1.0=3</td></tr>"


def test_foreach_variables_do_not_leak():
    body = (
        '<t t-set="total" t-value="0"/>'
        '<t t-foreach="[1, 2]" t-as="i">'
        '<t t-set="total" t-value="total + i"/><t t-esc="total"/></t>'
        '|<t t-esc="total"/>'
    )
    assert render(body) == "13|0"
    # after the loop, its variables are unknown names again, which render as nothing
    assert render('<t t-foreach="[1]" t-as="i"/>[<t t-esc="i_index"/>]') == "[]"


def test_foreach_before_if_on_same_element():
    body = '<li t-foreach="items" t-as="x" t-if="x % 2" t-esc="x"/>'
    assert render(body, items=[1, 2, 3]) == "<li>1</li><li>3</li>"


def test_foreach_on_non_iterable_names_directive():
    with pytest.raises(QWebError, match=r"error in t-foreach=\"v\": TypeError"):
        render('<t t-foreach="v" t-as="x"/>', v=None)


# --- t-set ----------------------------------------------------------------------


def test_set_with_value_and_with_body():
    body = (
        '<t t-set="a" t-value="2 * 21"/><t t-set="b"><em>hi</em> &amp; bye</t>'
        '<p t-esc="a"/><p t-out="b"/><p t-esc="b.__class__.__name__"/>'
    )
    assert render(body) == "<p>42</p><p><em>hi</em> &amp; bye</p><p>Markup</p>"


def test_set_on_element_outputs_nothing():
    assert render('<div t-set="x" t-value="1"/><t t-esc="x"/>') == "1"


def test_render_does_not_modify_given_values():
    values = {"x": 1}
    engine_with(main='<t t-set="x" t-value="2"/><t t-set="y" t-value="3"/>').render("main", values)
    assert values == {"x": 1}


# --- t-call ---------------------------------------------------------------------


def test_call_with_body_output_as_zero_and_values_passed():
    engine = engine_with(
        web__layout='<main t-att-class="cls"><h1 t-esc="title"/><t t-out="0"/></main>',
        page='<t t-call="web.layout"><t t-set="title" t-value="name"/><p>body</p></t>',
    )
    html = engine.render("page", {"name": XSS, "cls": "wide"})
    assert html == f'<main class="wide"><h1>{XSS_ESCAPED}</h1><p>body</p></main>'


def test_callee_gets_a_copy_of_the_values():
    engine = engine_with(
        callee='<t t-set="x" t-value="\'callee\'"/><t t-esc="x"/>',
        main='<t t-set="x" t-value="\'main\'"/><t t-call="callee"/>/<t t-esc="x"/>',
    )
    assert engine.render("main", {}) == "callee/main"


def test_call_key_may_be_formatted_and_recursive():
    engine = engine_with(
        item_a="A",
        main='<t t-call="item_{{ kind }}"/>',
        tree='<t t-esc="n"/><t t-if="n"><t t-call="tree"><t t-set="n" t-value="n - 1"/></t></t>',
    )
    assert engine.render("main", {"kind": "a"}) == "A"
    assert engine.render("tree", {"n": 3}) == "3210"


def test_call_of_unknown_template_names_both_templates():
    with pytest.raises(QWebError) as info:
        render('<t t-call="web.nope"/>')
    assert str(info.value) == (
        "template 'main': error in t-call=\"web.nope\": template 'web.nope' not found"
    )


def test_t_name_root_is_accepted():
    engine = QWeb()
    engine.add_template("x", etree.fromstring('<t t-name="x"><b>hi</b></t>'))
    assert engine.render("x", {}) == "<b>hi</b>"
    assert engine.has("x") and not engine.has("y")
    assert engine.keys() == ["x"]


def test_render_returns_markup():
    assert isinstance(render("<p>x</p>"), str)
    assert isinstance(engine_with(main="x").render("main", {}), Markup)


# --- expressions ----------------------------------------------------------------


def test_expressions_use_safe_builtins_and_comprehensions_see_values():
    body = '<t t-esc="sorted(len(w) for w in words if len(w) > limit)"/>'
    assert render(body, words=["a", "bbb", "cc"], limit=1) == "[2, 3]"
    # open is not among the builtins: the name is unknown (None), so calling it fails
    with pytest.raises(QWebError, match="TypeError: 'NoneType' object is not callable"):
        render("<t t-esc=\"open('/etc/passwd')\"/>")


def test_unknown_names_are_none():
    assert render('<t t-if="missing">yes</t><t t-else="">no</t>') == "no"
    assert render('<p t-att-title="missing"/>') == "<p></p>"


# --- compile once ---------------------------------------------------------------


@pytest.fixture
def compilations(monkeypatch):
    """Count the calls to the compiler made by the engine."""
    calls: list[str] = []
    original = engine_module.compile_template

    def counting(key, arch, lookup):
        calls.append(key)
        return original(key, arch, lookup)

    monkeypatch.setattr(engine_module, "compile_template", counting)
    return calls


def test_compiled_once_per_key_and_lang(compilations):
    engine = engine_with(main='<t t-esc="x"/>')
    assert [engine.render("main", {"x": i}) for i in range(3)] == ["0", "1", "2"]
    assert compilations == ["main"]
    engine.render("main", {"x": 1}, lang="fr")
    assert compilations == ["main", "main"]


def test_cache_cleared_by_add_template_and_add_inheritance(compilations):
    engine = engine_with(main="<p>v1</p>")
    assert engine.render("main", {}) == "<p>v1</p>"
    engine.add_template("main", etree.fromstring("<template><p>v2</p></template>"))
    assert engine.render("main", {}) == "<p>v2</p>"
    inherit = etree.fromstring(
        '<template inherit_id="main"><xpath expr="//p" position="inside">+</xpath></template>'
    )
    engine.add_inheritance("main", inherit)
    assert engine.render("main", {}) == "<p>v2+</p>"
    assert compilations == ["main", "main", "main"]


# --- errors ---------------------------------------------------------------------


def test_evaluation_error_names_template_and_expression_not_values():
    engine = engine_with(web__login='<p t-esc="user.name"/>')
    with pytest.raises(QWebError) as info:
        engine.render("web.login", {"user": "s3cret-token"})
    message = str(info.value)
    assert message.startswith("template 'web.login': error in t-esc=\"user.name\": AttributeError")
    assert "s3cret-token" not in message
    assert isinstance(info.value.__cause__, AttributeError)


def test_assignment_expressions_are_refused():
    with pytest.raises(QWebError, match=r"error in t-if=\"\(user := None\) or 1\".*not allowed"):
        render('<t t-if="(user := None) or 1"/><t t-esc="user"/>', user="alice")


def test_the_content_of_a_void_element_is_checked_though_never_output():
    with pytest.raises(QWebError, match="unknown directive t-bogus on <t>"):
        render('<br><t t-bogus="1"/></br>')
    with pytest.raises(QWebError, match="SyntaxError"):
        render('<input><t t-esc="1 +"/></input>')


def test_syntax_error_names_template_and_expression():
    expected = r"template 'main': error in t-if=\"a b\": SyntaxError"
    with pytest.raises(QWebError, match=expected) as info:
        render('<p t-if="a b">x</p>')
    assert isinstance(info.value.__cause__, SyntaxError)


def test_attf_error_names_the_attribute():
    expected = r"error in t-attf-href=\"/x/\{\{ 1 // 0 \}\}\": ZeroDivisionError"
    with pytest.raises(QWebError, match=expected):
        render('<a t-attf-href="/x/{{ 1 // 0 }}"/>')


def test_unknown_template_and_unknown_directive():
    with pytest.raises(QWebError, match="template 'nope' not found"):
        QWeb().render("nope", {})
    with pytest.raises(QWebError, match="template 'main': unknown directive t-raw on <p>"):
        render('<p t-raw="x"/>')
