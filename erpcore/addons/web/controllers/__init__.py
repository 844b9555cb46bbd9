from erpcore.addons.web.controllers import admin, home, login, preferences, settings  # noqa: F401
