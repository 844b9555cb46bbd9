"""The project itself: README commands and contents, layout, import direction, ruff,
and the CI rule that a missing PostgreSQL or Chromium fails instead of skipping."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from erpcore.cli.main import full_parser
from erpcore.config import Config
from erpcore.modules.addons import discover
from erpcore.modules.manifest import parse_manifest
from erpcore.server import Server
from tests.server.helpers import ROOT, TEST_ADDONS

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    first, second = (line.strip() for line in README.splitlines()[:2])
    assert first == "pip install -e . && erpcore serve"
    assert second == "pip install -e '.[test]' && tests/run"
    tests_run = ROOT / "tests" / "run"
    assert os.access(tests_run, os.X_OK)
    script = tests_run.read_text()
    assert "ruff check ." in script and "python3 -m pytest" in script
    ci = (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    # CI follows the README literally, in a virtual environment of its own
    assert "export CI=true" in ci and 'python3 -m venv "$venv"' in ci
    assert re.search(r"^pip install .*-e '\.\[test\]' && tests/run\b", ci, re.M)


MISSING_COMPONENTS = '''
import tests.browser.conftest as browser


def test_needs_postgresql(make_erp):
    make_erp("postgresql")


def test_needs_chromium(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    browser.require_chromium()
'''


def test_missing_postgresql_or_chromium_fails_under_ci_and_skips_otherwise(tmp_path):
    test_file = tmp_path / "test_missing.py"
    test_file.write_text(MISSING_COMPONENTS)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "ERPCORE_TEST_PG")}
    outcomes = {}
    for ci in ("true", ""):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
             str(test_file)], cwd=ROOT, env={**env, "CI": ci}, capture_output=True, text=True,
            timeout=120, check=False)
        outcomes[ci] = (result.returncode, result.stdout.strip().splitlines()[-1])
    assert outcomes["true"][0] == 1 and "2 failed" in outcomes["true"][1], outcomes
    assert outcomes[""][0] == 0 and "2 skipped" in outcomes[""][1], outcomes


def test_layout_follows_the_design():
    for path in ["erpcore/addons/base/__manifest__.py", "erpcore/addons/web/__manifest__.py",
                 "auth_totp/__manifest__.py", "auth_totp/models", "auth_totp/wizard",
                 "auth_totp/controllers", "auth_totp/views", "auth_totp/security",
                 "auth_totp/i18n", "auth_totp/static", "tests/server", "tests/qweb",
                 "tests/auth_totp", "tests/browser", "doc", "bench", "README.md",
                 "pyproject.toml", "LICENSE", ".ci/run"]:
        assert (ROOT / path).exists(), path
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()


def addon_imports(source: str, addon_packages: set[str]) -> list[str]:
    """The imports in *source* of an addon package, by name or through importlib."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                  "import_module", "__import__")):
            names = [node.args[0].value]
        found += [n for n in names
                  if n.split(".")[0] in addon_packages or n.startswith("erpcore.addons.")]
    return found


def test_the_framework_imports_no_addon_by_name():
    addons = set(discover([TEST_ADDONS])) | {"auth_totp"}
    assert addon_imports("import auth_totp.models\nfrom erpcore.addons.web import x\n"
                         "importlib.import_module('test_feature')", addons) == [
        "auth_totp.models", "erpcore.addons.web", "erpcore.addons.web.x", "test_feature"]
    framework = [p for p in (ROOT / "erpcore").rglob("*.py")
                 if (ROOT / "erpcore" / "addons") not in p.parents]
    assert len(framework) > 20
    offenders = {str(p.relative_to(ROOT)): found for p in framework
                 if (found := addon_imports(p.read_text(encoding="utf-8"), addons))}
    assert offenders == {}


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_readme_explains_install_start_configuration_and_addons_accurately():
    headings = re.findall(r"^#+ (.+)$", README, re.M)
    for wanted in ("Install", "First start", "Configuration", "Writing an addon",
                   "Project layout"):
        assert any(h.startswith(wanted) for h in headings), wanted
    for term in ("__manifest__.py", "_inherit", "super()", "xpath", "preferences_sections",
                 "users_header", "user_row", "user_actions", "_mfa_url", "identity=True",
                 "erpcore.cli.Command", "erpcore i18n extract", "erpcore i18n check",
                 "erpcore.addons", "ERPCORE_DATA_DIR", "ERPCORE_SECRET_KEYS", "keys rotate",
                 "module install", "doc/"):
        assert term in README, term
    # every option the README shows exists, and every server option is explained
    options: set[str] = set()

    def collect(parser) -> None:
        for action in parser._actions:
            options.update(action.option_strings)
            for sub in getattr(action, "choices", None) or {}:
                if hasattr(action.choices[sub], "_actions"):
                    collect(action.choices[sub])

    collect(full_parser(Server(Config())))
    prose = re.sub(r"```python\n.*?```", "", README, flags=re.S)  # examples have their own
    shown = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", prose))
    assert shown - options == set()
    assert {"--data-dir", "--db", "--addons-path", "--http-interface", "--http-port",
            "--workers", "--proxy-mode", "--password-rounds"} <= shown
    # the code in the README is valid: manifests parse, Python compiles
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        if block.lstrip().startswith("{"):
            parse_manifest(block, "README")
        else:
            compile(block, "README", "exec")
