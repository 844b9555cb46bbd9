"""Addons: manifests, discovery, dependency order, install and uninstall in one transaction."""

from __future__ import annotations

import importlib.metadata
import re

import pytest
import sqlalchemy as sa
from markupsafe import escape

from erpcore.modules.addons import AddonError, discover
from erpcore.modules.manifest import ManifestError, parse_manifest
from erpcore.registry import RegistryError
from tests.server.helpers import ROOT, TEST_ADDONS, install, uninstall
from tests.support import ADMIN_PASSWORD, table_dump

#: tables whose rows legitimately change when an addon comes and goes
BOOKKEEPING = ("http_session", "ir_module_module", "ir_registry_signal", "ir_throttle")


def schema(server) -> dict[str, tuple]:
    """Every table with its columns and indexes."""
    with server.engine.connect() as conn:
        inspector = sa.inspect(conn)
        return {
            table: (sorted(c["name"] for c in inspector.get_columns(table)),
                    sorted(i["name"] for i in inspector.get_indexes(table)))
            for table in inspector.get_table_names()
        }


def data(server) -> dict[str, list]:
    return {k: v for k, v in table_dump(server).items() if k not in BOOKKEEPING}


def app_card(html: str, name: str) -> str:
    """The card of addon *name* on the Applications page."""
    match = re.search(rf'<li[^>]*data-addon="{name}".*?</li>', html, re.DOTALL)
    assert match, f"no card for {name}"
    return match.group(0)


def make_addon(folder, name: str, manifest: str, init: str = "") -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "__manifest__.py").write_text(manifest)
    (folder / name / "__init__.py").write_text(init)


def test_manifest_is_a_literal_never_executed(tmp_path):
    witness = tmp_path / "executed"
    make_addon(tmp_path, "evil", f'{{"name": "Evil", "summary": __import__("os").system('
                                 f'"touch {witness}")}}')
    make_addon(tmp_path, "fine", '{"name": "Fine", "depends": ["base"], "odoo_key": 1}')
    found = discover([tmp_path])
    assert "evil" not in found and not witness.exists()
    assert found["fine"].manifest.depends == ("base",)  # unknown keys are tolerated
    for text, reason in [("[1, 2]", "dict literal"), ('{"summary": "x"}', "'name' is required"),
                         ('{"name": "x", "depends": "base"}', "wrong type"),
                         ('{"name": "x", "depends": [1]}', "must list strings")]:
        with pytest.raises(ManifestError, match=reason):
            parse_manifest(text, "m.py")


def test_discovery_through_addons_path_and_entry_points(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "fake_erp_addon-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-erp-addon\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[erpcore.addons]\nfake_ep_addon = fake_ep_addon\n")
    make_addon(site, "fake_ep_addon", '{"name": "From an entry point", "depends": ["base"]}')
    # an addon on the path named like a built-in does not shadow it
    make_addon(tmp_path / "path", "web", '{"name": "Impostor"}')
    monkeypatch.syspath_prepend(str(site))

    found = discover([TEST_ADDONS, tmp_path / "path"])
    assert found["fake_ep_addon"].path == site / "fake_ep_addon"
    assert found["test_feature"].path == TEST_ADDONS / "test_feature"
    assert found["web"].manifest.name == "Web"
    # auth_totp is declared in pyproject.toml, so an installed erpcore sees it with no path
    declared = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="erpcore.addons")}
    assert declared["auth_totp"] == "auth_totp"
    assert discover([])["auth_totp"].path == ROOT / "auth_totp"


def test_entry_point_addon_installs(make_erp, tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "fake_erp_addon2-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-erp-addon2\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[erpcore.addons]\nfake_ep_addon2 = fake_ep_addon2\n")
    make_addon(site, "fake_ep_addon2", '{"name": "EP", "depends": ["base"]}',
               "from erpcore.orm import Model, fields\n\n\n"
               "class Thing(Model):\n    _name = 'fake.ep.thing'\n    name = fields.Char()\n")
    monkeypatch.syspath_prepend(str(site))
    erp = make_erp("sqlite")
    assert install(erp, "fake_ep_addon2") == ["fake_ep_addon2"]
    with erp.env() as env:
        assert env["fake.ep.thing"].create({"name": "x"}).name == "x"


def test_dependencies_install_first_and_extend_with_super(addon_erp):
    assert install(addon_erp, "test_dep_b") == ["test_dep_a", "test_dep_b"]
    with addon_erp.env() as env:
        widget = env["test.dep.widget"].create({"name": "w", "colour": "red",
                                                "owner_id": env.ref("base.group_user").id})
        assert widget.describe() == "widget w in red"
    # uninstalling b alone drops the columns it added to a's table, Many2one included
    assert uninstall(addon_erp, "test_dep_b") == ["test_dep_b"]
    columns = schema(addon_erp.server)["test_dep_widget"][0]
    assert columns == ["id", "name"]
    with addon_erp.env() as env:
        assert env["test.dep.widget"].browse(widget.id).describe() == "widget w"
    # uninstalling a takes its dependents with it
    install(addon_erp, "test_dep_b")
    assert uninstall(addon_erp, "test_dep_a") == ["test_dep_a", "test_dep_b"]
    assert "test_dep_widget" not in schema(addon_erp.server)


def test_broken_dependencies_are_clear_errors_and_change_nothing(make_erp, tmp_path, backend):
    make_addon(tmp_path, "needs_ghost", '{"name": "G", "depends": ["web", "ghost"]}')
    make_addon(tmp_path, "loop_a", '{"name": "A", "depends": ["loop_b"]}')
    make_addon(tmp_path, "loop_b", '{"name": "B", "depends": ["loop_a"]}')
    make_addon(tmp_path, "needs_lib", '{"name": "L", "external_dependencies": '
                                      '{"python": ["no_such_module_erpcore"]}}')
    make_addon(tmp_path, "broken_code", '{"name": "B", "depends": ["base"]}',
               "import no_such_module_erpcore_x\n")
    make_addon(tmp_path, "needs_broken", '{"name": "NB", "depends": ["broken_code"]}')
    make_addon(tmp_path, "bad_inherit", '{"name": "BI", "depends": ["base"]}',
               "from erpcore.orm import Model\n\n\n"
               "class Ghost(Model):\n    _inherit = 'no.such.model'\n")
    erp = make_erp(backend, addons_path=[tmp_path])
    before = table_dump(erp.server)
    cases = [("needs_ghost", "'needs_ghost' depends on 'ghost', which is not found"),
             ("loop_a", "depends on itself"),
             ("needs_lib", "needs the Python module 'no_such_module_erpcore'"),
             ("nothing_here", "unknown addon 'nothing_here'"),
             ("needs_broken", "'broken_code' cannot be imported: ModuleNotFoundError"),
             ("bad_inherit", "extends 'no.such.model', which no installed addon defines")]
    for name, message in cases:
        with pytest.raises((AddonError, RegistryError), match=message):
            install(erp, name)
    assert table_dump(erp.server) == before
    # the Applications page says the same in a clean page
    admin = erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    before = data(erp.server)
    for name, message in cases:
        page = admin.post("/web/apps/install", {"name": name}, from_page="/web/apps")
        assert page.status_code == 400 and escape(message) in page.text, name
    assert data(erp.server) == before


def test_failed_install_leaves_the_database_exactly_as_before(addon_erp):
    server = addon_erp.server
    before, before_schema = table_dump(server), schema(server)
    with pytest.raises(AddonError, match="test_failing.*refuses to be installed"):
        install(addon_erp, "test_failing")
    assert table_dump(server) == before
    assert schema(server) == before_schema

    # the same through the Applications page: a clean error, nothing kept
    admin = addon_erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    before = data(server)
    page = admin.post("/web/apps/install", {"name": "test_failing"}, from_page="/web/apps")
    assert page.status_code == 400
    assert "refuses to be installed" in page.text
    assert data(server) == before
    assert schema(server) == before_schema
    assert admin.get("/web").status_code == 200


def test_install_then_uninstall_from_applications_removes_every_trace(addon_erp):
    server = addon_erp.server
    admin = addon_erp.client()
    admin.login("admin", ADMIN_PASSWORD)
    before_data, before_schema = data(server), schema(server)

    page = admin.post("/web/apps/install", {"name": "test_feature"}, from_page="/web/apps")
    assert admin.path() == "/web/apps?message=installed"
    assert "Désinstaller" in app_card(page.text, "test_feature")  # the admin reads French
    assert admin.get("/test_feature/hello").text == "Bonjour de la fonctionnalité"
    home = admin.get("/web")
    assert 'id="test_feature_home"' in home.text
    assert home.headers["X-Test-Feature"] == "home"  # the overriding controller serves /web
    assert 'id="test_feature_section"' in admin.get("/web/preferences").text
    users = admin.get("/web/users").text
    assert 'id="test_feature_column"' in users and "nick-demo" not in users  # created before
    installed = schema(server)
    assert "test_feature_note" in installed
    assert "nickname" in installed["res_users"][0]
    assert "ix_res_users_nickname" in installed["res_users"][1]
    with server.environment() as env:
        assert env["test.feature.note"].search([]).mapped("name") == ["installed by the hook"]
        assert env["res.users"].create({"login": "zed", "name": "Zed"}).nickname == "nick-zed"
        env["res.users"].search([("login", "=", "zed")]).unlink()

    admin.post("/web/apps/uninstall", {"name": "test_feature"}, from_page="/web/apps")
    assert admin.path() == "/web/apps?message=uninstalled"
    # the first read of the next request asks for the session's user in the users' table
    # of the registry loaded last, whose nickname column is gone: it reads again without
    assert admin.get("/test_feature/hello").status_code == 404
    home = admin.get("/web")
    assert "test_feature_home" not in home.text and "X-Test-Feature" not in home.headers
    assert "test_feature_section" not in admin.get("/web/preferences").text
    assert "test_feature_column" not in admin.get("/web/users").text
    assert schema(server) == before_schema
    assert data(server) == before_data
    with server.environment() as env:
        assert "test.feature.note" not in env
        assert "nickname" not in env["res.users"]._fields
