{
    "name": "Test Feature",
    "summary": "Notes with an encrypted secret, for the tests of erpcore",
    "version": "1.0",
    "depends": ["web"],
    "data": ["security/ir.model.access.csv", "views/templates.xml"],
    "license": "LGPL-3",
    "installable": True,
    "application": True,
    "icon": "/test_feature/static/description/icon.svg",
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
}
