from erpcore.addons.web.controllers import admin, home, login, preferences  # noqa: F401
