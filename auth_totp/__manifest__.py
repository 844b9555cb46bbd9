{
    "name": "Two-Factor Authentication (TOTP)",
    "summary": "Ask for a 6-digit code from an authenticator app at sign-in",
    "description": "Time-based one-time passwords (RFC 6238) with an encrypted secret, "
                   "replay protection, throttling shared by every worker, recovery codes "
                   "and trusted browsers.",
    "version": "1.0",
    "category": "Extra Tools",
    "depends": ["web"],
    "data": [
        "security/ir.model.access.csv",
        "views/assets.xml",
        "views/login.xml",
        "views/preferences.xml",
        "views/settings.xml",
        "views/users.xml",
        "views/mail_templates.xml",
    ],
    "external_dependencies": {"python": ["qrcode", "PIL", "cryptography"]},
    "license": "LGPL-3",
    "installable": True,
    "application": True,
    "icon": "/auth_totp/static/description/icon.svg",
    "uninstall_hook": "uninstall_hook",
}
