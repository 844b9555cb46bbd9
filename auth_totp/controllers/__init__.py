from auth_totp.controllers import admin, login, preferences  # noqa: F401
