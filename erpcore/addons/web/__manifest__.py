{
    "name": "Web",
    "summary": "Sign-in, home, Preferences, Applications and Users pages",
    "version": "1.0",
    "depends": ["base"],
    "data": ["views/layout.xml", "views/login.xml", "views/pages.xml",
             "views/mail_templates.xml", "views/apikeys.xml"],
    "license": "LGPL-3",
    "installable": True,
    "application": False,
    "icon": "/web/static/description/icon.svg",
}
