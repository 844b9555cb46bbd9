from auth_totp.wizard import auth_totp_wizard  # noqa: F401
