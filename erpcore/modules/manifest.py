"""Reading ``__manifest__.py``: a dict literal, parsed, never executed."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Manifest:
    name: str
    summary: str = ""
    version: str = "1.0"
    depends: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    external_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    license: str = "LGPL-3"
    installable: bool = True
    application: bool = False
    auto_install: bool = False
    icon: str = ""
    #: names of functions in the addon package, called with an environment
    post_init_hook: str = ""
    uninstall_hook: str = ""
    description: str = ""
    author: str = ""
    category: str = ""


_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "summary": str, "version": str, "depends": (list, tuple), "data": (list, tuple),
    "external_dependencies": dict, "license": str, "installable": bool, "application": bool,
    "auto_install": bool, "icon": str, "post_init_hook": str, "uninstall_hook": str,
    "description": str, "author": str, "category": str,
}


def parse_manifest(text: str, where: str = "<manifest>") -> Manifest:
    """Parse the text of a manifest; :class:`ManifestError` if it is not a valid one."""
    try:
        data: Any = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        reason = exc.__class__.__name__
        raise ManifestError(f"{where}: not a Python dict literal ({reason})") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: must be a dict literal")
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = _TYPES.get(key)
        if expected is None:
            continue  # unknown keys are tolerated, as Odoo does
        if not isinstance(value, expected):
            raise ManifestError(f"{where}: {key!r} has the wrong type")
        values[key] = value
    if not values.get("name"):
        raise ManifestError(f"{where}: 'name' is required")
    for key in ("depends", "data"):
        if key in values:
            if not all(isinstance(v, str) for v in values[key]):
                raise ManifestError(f"{where}: {key!r} must list strings")
            values[key] = tuple(values[key])
    if "external_dependencies" in values:
        values["external_dependencies"] = {
            str(k): tuple(v) for k, v in values["external_dependencies"].items()
        }
    return Manifest(**values)


def read_manifest(addon_dir: Path) -> Manifest:
    path = addon_dir / "__manifest__.py"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read") from exc
    return parse_manifest(text, str(path))
