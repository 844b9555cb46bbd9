{
    "name": "Base",
    "summary": "Users, groups, passwords and the identity re-check",
    "version": "1.0",
    "depends": [],
    "data": ["data/groups.xml", "security/ir.model.access.csv"],
    "license": "LGPL-3",
    "installable": True,
    "application": False,
    "icon": "/base/static/description/icon.svg",
}
