"""The code's structure: no import cycle, a framework that knows no second factor, no dead
names, and the packaging the design card names."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.server.helpers import ROOT

FRAMEWORK = ROOT / "erpcore"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The erpcore modules *path* imports when it runs: at module level and in functions,
    but not under ``if TYPE_CHECKING:`` (annotations only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(sub) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for sub in ast.walk(node)}
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1]
                                + ([node.module] if node.module else []))
            for alias in node.names:  # "from pkg import submodule" imports the submodule
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
    return found & modules


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def framework_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Imports between erpcore's modules, and between its parts (erpcore.http, erpcore.orm,
    erpcore.registry...), the built-in addons left out (they sit on top)."""
    files = {module_name(p): p for p in FRAMEWORK.rglob("*.py")
             if FRAMEWORK / "addons" not in p.parents}
    modules = {name: runtime_imports(path, set(files)) for name, path in files.items()}
    parts: dict[str, set[str]] = {}
    for name, imported in modules.items():
        part = ".".join(name.split(".")[:2])
        parts.setdefault(part, set()).update(
            ".".join(other.split(".")[:2]) for other in imported
            if ".".join(other.split(".")[:2]) != part)
    return modules, parts


def test_no_import_cycle_among_erpcores_modules_or_parts():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    modules, parts = framework_graph()
    assert len(modules) > 30 and {"erpcore.http", "erpcore.orm", "erpcore.registry"} <= set(parts)
    assert cycles(modules) == []
    assert cycles(parts) == []
    # the layering the registry's docstring draws: the ORM knows neither addons nor HTTP
    assert not parts["erpcore.orm"] & {"erpcore.http", "erpcore.modules", "erpcore.registry",
                                       "erpcore.server"}


def code_words(path: Path) -> str:
    """The names and strings of a Python file, without its comments and docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            words.append(node.value)
        elif isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, (ast.arg, ast.keyword)) and (node.arg or ""):
            words.append(node.arg)
    return "\n".join(words)


SECOND_FACTOR = re.compile(r"totp|2fa|otp|issuer|trusted.?device|recovery", re.IGNORECASE)


def test_the_framework_holds_no_setting_or_style_of_the_second_factor():
    assert SECOND_FACTOR.search(code_words(ROOT / "auth_totp" / "settings.py"))
    found = [f"{path.relative_to(ROOT)}: {match}"
             for path in FRAMEWORK.rglob("*.py")
             for match in SECOND_FACTOR.findall(code_words(path))]
    for path in [*FRAMEWORK.rglob("*.css"), *FRAMEWORK.rglob("*.xml")]:
        text = re.sub(r"/\*.*?\*/|<!--.*?-->", "", path.read_text(encoding="utf-8"), flags=re.S)
        found += [f"{path.relative_to(ROOT)}: {m}" for m in SECOND_FACTOR.findall(text)]
    assert found == []


DEAD = {
    "erpcore/db.py": ["def database_name"],
    "erpcore/keys.py": ["def key_id_of", "load_or_create"],
    "erpcore/throttle.py": ["def failures", "def failure(", "lockouts"],
    "erpcore/orm/models.py": ["def with_user", "def with_context", "def filtered"],
    "erpcore/orm/fields.py": ["class Text", "class Float", "self.help"],
    "erpcore/http/session.py": ["def pop", "self.data", "delete_user_sessions"],
    "erpcore/http/request.py": ["self.routing"],
    "erpcore/db.py ": ["lockouts"],
    "auth_totp/models/res_users.py": ["totp_device_ids"],
}


def test_the_dead_names_are_gone():
    for path, names in DEAD.items():
        text = (ROOT / path.strip()).read_text(encoding="utf-8")
        assert [name for name in names if name in text] == [], path
    assert "fromtimestamp" not in "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "auth_totp").rglob("*.py"))


def test_setup_py_is_the_conventional_shim_and_pyproject_holds_the_metadata(tmp_path):
    shim = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert re.search(r"^setup\(\)$", shim, re.M)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for package in ("passlib", "pyotp", "qrcode", "pillow", "lxml", "waitress", "requests"):
        assert re.search(rf'"{"libpass" if package == "passlib" else package}>=', pyproject,
                         re.I), package
    requires = re.search(r'requires = \["setuptools>=(\d+)', pyproject)
    assert int(requires.group(1)) >= 77  # a license written as an SPDX expression
    # what `pip install .` builds (in an isolated environment with those setuptools)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--disable-pip-version-check", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("erpcore-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for path in ("auth_totp/__manifest__.py", "auth_totp/i18n/fr.po",
                 "auth_totp/static/src/css/auth_totp.css", "erpcore/addons/web/views/layout.xml"):
        assert path in names, path
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "auth_totp = auth_totp" in archive.read(entry_points).decode()
