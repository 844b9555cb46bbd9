from auth_totp.controllers import admin, login, policy, preferences  # noqa: F401
