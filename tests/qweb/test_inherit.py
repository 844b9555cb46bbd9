"""``<xpath>`` inheritance: every position, errors, and no mutation of the inputs."""

import pytest
from lxml import etree

from erpcore.qweb import QWeb, QWebError, apply_inheritance

BASE = (
    '<template id="web.form">'
    '<form><input name="login"/>\n<button id="go">Go</button>tail</form>'
    "</template>"
)


def inherit(*specs: str) -> etree._Element:
    return etree.fromstring(f'<template inherit_id="web.form">{"".join(specs)}</template>')


def patched(*specs: str) -> str:
    result = apply_inheritance(etree.fromstring(BASE), inherit(*specs))
    return etree.tostring(result, encoding="unicode")


def test_inside_appends_to_the_target():
    html = patched('<xpath expr="//form" position="inside">new <i>x</i></xpath>')
    assert html == BASE.replace("tail</form>", "tailnew <i>x</i></form>")


def test_inside_is_the_default_position():
    assert patched('<xpath expr="//button"><b/></xpath>') == BASE.replace("Go<", "Go<b/><")


def test_before_and_after():
    html = patched(
        '<xpath expr="//button" position="before"><hr/></xpath>',
        '<xpath expr="//button" position="after"><br/></xpath>',
    )
    assert html == BASE.replace("\n<button", "\n<hr/><button").replace(
        "</button>", "</button><br/>"
    )


def test_replace_keeps_the_tail_of_the_target():
    html = patched('<xpath expr="//button[@id=\'go\']" position="replace"><a>A</a>B</xpath>')
    assert html == BASE.replace('<button id="go">Go</button>tail', "<a>A</a>Btail")


def test_replace_with_nothing_removes_the_target():
    html = patched('<xpath expr="//input" position="replace"/>')
    assert html == BASE.replace('<input name="login"/>', "")


def test_attributes_set_replace_and_remove():
    html = patched(
        '<xpath expr="//input" position="attributes">'
        '<attribute name="placeholder">Email</attribute>'
        '<attribute name="name">email</attribute>'
        "</xpath>",
        '<xpath expr="//button" position="attributes"><attribute name="id"/></xpath>',
    )
    assert '<input name="email" placeholder="Email"/>' in html
    assert "<button>Go</button>" in html


def test_non_matching_xpath_raises_naming_the_expr():
    with pytest.raises(QWebError, match=r"xpath expr=\"//div\[@id='nope'\]\" matched nothing"):
        patched('<xpath expr="//div[@id=\'nope\']" position="inside"/>')


def test_invalid_xpath_position_and_spec_raise():
    with pytest.raises(QWebError, match=r"invalid xpath expr=\"//\[\""):
        patched('<xpath expr="//[" position="inside"/>')
    with pytest.raises(QWebError, match='unknown position "around"'):
        patched('<xpath expr="//form" position="around"/>')
    with pytest.raises(QWebError, match="unsupported inheritance spec <form>"):
        patched('<form position="inside"/>')
    with pytest.raises(QWebError, match="not allowed on the template root"):
        patched('<xpath expr="." position="replace"/>')


def test_inputs_are_not_mutated():
    base = etree.fromstring(BASE)
    spec = inherit(
        '<xpath expr="//form" position="inside"><p>added</p></xpath>',
        '<xpath expr="//input" position="replace"><textarea/></xpath>',
        '<xpath expr="//button" position="attributes"><attribute name="id">x</attribute></xpath>',
    )
    before = (etree.tostring(base), etree.tostring(spec))
    result = apply_inheritance(base, spec)
    assert (etree.tostring(base), etree.tostring(spec)) == before
    assert result is not base
    assert b"<textarea/>" in etree.tostring(result)


def test_engine_applies_inheritances_in_order_even_if_added_first():
    engine = QWeb()
    engine.add_inheritance(
        "web.form", inherit('<xpath expr="//button" position="inside"> 1</xpath>')
    )
    engine.add_template("web.form", etree.fromstring(BASE))
    engine.add_inheritance(
        "web.form", inherit('<xpath expr="//button" position="inside"> 2</xpath>')
    )
    html = engine.render("web.form", {})
    assert html == '<form><input name="login">\n<button id="go">Go 1 2</button>tail</form>'


def test_engine_inheritance_error_names_the_template():
    engine = QWeb()
    engine.add_template("web.form", etree.fromstring(BASE))
    engine.add_inheritance("web.form", inherit('<xpath expr="//table"/>'))
    with pytest.raises(QWebError) as info:
        engine.render("web.form", {})
    assert str(info.value) == (
        "template 'web.form': inheritance: xpath expr=\"//table\" matched nothing"
    )
