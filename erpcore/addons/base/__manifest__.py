{
    "name": "Base",
    "summary": "Users, groups, passwords, the identity re-check and the outbox",
    "version": "1.0",
    "depends": [],
    "data": ["data/groups.xml", "security/ir.model.access.csv", "views/mail_layout.xml",
             "views/mail_templates.xml"],
    "license": "LGPL-3",
    "installable": True,
    "application": False,
    "icon": "/base/static/description/icon.svg",
}
