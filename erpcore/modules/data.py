"""Data files of addons: XML (templates and records) and access-rights CSV.

Templates and access rules are read from the files of the installed addons
when a registry is built, so uninstalling an addon removes them with no
trace. Records (groups, for instance) are written to the database at install
and owned by their addon through ``ir_model_data``.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from erpcore.modules.addons import Addon, AddonError

if TYPE_CHECKING:
    from erpcore.orm.environment import Environment


@dataclass(frozen=True)
class AccessRule:
    #: ``model_`` + the model name with dots as underscores, as Odoo writes it
    model_ref: str
    #: external id of the group, or '' for everyone signed in
    group: str
    perms: frozenset[str]


def qualify(addon: str, xmlid: str) -> str:
    return xmlid if "." in xmlid else f"{addon}.{xmlid}"


def _parse_xml(addon: Addon, relative: str) -> etree._Element:
    parser = etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True)
    try:
        return etree.parse(str(addon.file(relative)), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise AddonError(f"addon {addon.name!r}: cannot read {relative}: {exc}") from exc


def xml_files(addon: Addon) -> list[str]:
    return [f for f in addon.manifest.data if f.endswith(".xml")]


def load_templates(addon: Addon, qweb: Any) -> None:
    """Give the addon's templates and template inheritances to *qweb*."""
    for relative in xml_files(addon):
        for node in _parse_xml(addon, relative).iter("template"):
            if node.get("inherit_id"):
                qweb.add_inheritance(qualify(addon.name, node.get("inherit_id")), node)
            else:
                qweb.add_template(qualify(addon.name, node.get("id")), node)


def load_access_rules(addon: Addon) -> list[AccessRule]:
    rules = []
    for relative in addon.manifest.data:
        if not relative.endswith("ir.model.access.csv"):
            continue
        with addon.file(relative).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                perms = frozenset(
                    op for op in ("read", "write", "create", "unlink")
                    if row.get(f"perm_{op}", "0").strip() == "1"
                )
                model_ref = row["model_id:id"].strip().split(".")[-1]
                group = row.get("group_id:id", "").strip()
                rules.append(AccessRule(
                    model_ref=model_ref,
                    group=qualify(addon.name, group) if group else "",
                    perms=perms,
                ))
    return rules


def load_records(addon: Addon, env: Environment) -> None:
    """Create the ``<record>`` elements of the addon's XML files, owned by the addon."""
    for relative in xml_files(addon):
        for node in _parse_xml(addon, relative).iter("record"):
            vals: dict[str, Any] = {}
            for field in node.iter("field"):
                name = field.get("name")
                if field.get("ref"):
                    vals[name] = env.ref(qualify(addon.name, field.get("ref"))).id
                elif field.get("eval"):
                    vals[name] = ast.literal_eval(field.get("eval"))
                else:
                    vals[name] = field.text or ""
            record = env[node.get("model")].sudo().create(vals)
            env.registry.set_xmlid(env.conn, qualify(addon.name, node.get("id")), record)
