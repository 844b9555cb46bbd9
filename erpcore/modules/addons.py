"""Finding addons on the addons path, and knowing which addon a class belongs to.

Addons are searched, first found wins, in:

1. the built-in addons (``erpcore/addons``);
2. the folders of ``--addons-path``;
3. the installed distributions declaring an ``erpcore.addons`` entry point
   (so ``pip install`` of an addon makes it visible with no configuration).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from erpcore import db
from erpcore.modules.manifest import Manifest, ManifestError, read_manifest

_logger = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "addons"
ENTRY_POINT_GROUP = "erpcore.addons"

#: python package name -> addon name, for every addon found so far
_packages: dict[str, str] = {}


@dataclass(frozen=True)
class Addon:
    name: str
    path: Path
    #: the importable package name
    package: str
    manifest: Manifest

    def module(self) -> ModuleType:
        """Import the addon's package (once per process) and return it.

        :raises AddonError: when its code does not import (a missing module, a
            syntax error...), named in one line rather than as a traceback.
        """
        _packages[self.package] = self.name
        if self.package not in sys.modules and self.package.count(".") == 0:
            parent = str(self.path.parent)
            if parent not in sys.path and importlib.util.find_spec(self.package) is None:
                sys.path.append(parent)
        try:
            return importlib.import_module(self.package)
        except Exception as exc:
            raise AddonError(f"addon {self.name!r} cannot be imported: "
                             f"{exc.__class__.__name__}: {exc}") from exc

    def file(self, relative: str) -> Path:
        return self.path / relative


class AddonError(Exception):
    """An addon cannot be found, read or used; the message is one line."""


def addon_of_module(module_name: str) -> str:
    """The addon whose package holds *module_name*."""
    if module_name.startswith("erpcore.addons."):
        return module_name.split(".")[2]
    for package, addon in _packages.items():
        if module_name == package or module_name.startswith(package + "."):
            return addon
    return module_name.split(".")[0]


def _entry_point_addons() -> list[tuple[str, str]]:
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.append((ep.name, ep.value.split(":")[0]))
    return found


def discover(addons_path: list[Path] | None = None) -> dict[str, Addon]:
    """Every addon visible on the addons path, by name; broken manifests are skipped with a log."""
    addons: dict[str, Addon] = {}

    def consider(name: str, path: Path, package: str) -> None:
        if name in addons or not (path / "__manifest__.py").is_file():
            return
        try:
            manifest = read_manifest(path)
        except ManifestError as exc:
            _logger.warning("addon %s skipped: %s", name, exc)
            return
        addons[name] = Addon(name, path, package, manifest)
        _packages.setdefault(package, name)

    for folder in [BUILTIN_DIR, *(addons_path or [])]:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if child.is_dir():
                package = (f"erpcore.addons.{child.name}" if folder == BUILTIN_DIR else child.name)
                consider(child.name, child, package)
    for name, package in _entry_point_addons():
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            consider(name, Path(next(iter(spec.submodule_search_locations))), package)
    return addons


def dependency_order(names: list[str], available: dict[str, Addon]) -> list[str]:
    """*names* and all their dependencies, each after what it depends on.

    :raises AddonError: for an unknown addon, a non-installable one, or a cycle.
    """
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, wanted_by: str | None) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise AddonError(f"addon {name!r} depends on itself through {wanted_by!r}")
        addon = available.get(name)
        if addon is None:
            if wanted_by:
                raise AddonError(f"addon {wanted_by!r} depends on {name!r}, which is not found")
            raise AddonError(f"unknown addon {name!r}")
        if not addon.manifest.installable:
            raise AddonError(f"addon {name!r} is not installable")
        visiting.add(name)
        for dep in addon.manifest.depends:
            visit(dep, name)
        visiting.discard(name)
        ordered.append(name)

    for name in names:
        visit(name, None)
    return ordered


def check_external_dependencies(addon: Addon) -> None:
    for module in addon.manifest.external_dependencies.get("python", ()):
        if importlib.util.find_spec(module) is None:
            raise AddonError(f"addon {addon.name!r} needs the Python module {module!r}")


def installed_names(conn: Connection, available: dict[str, Addon]) -> list[str]:
    """The installed addons, in dependency order (addons gone from disk are skipped)."""
    t = db.modules_table
    names = conn.execute(sa.select(t.c.name).where(t.c.state == "installed")).scalars()
    present = [n for n in names if n in available]
    return dependency_order(sorted(present), available)
