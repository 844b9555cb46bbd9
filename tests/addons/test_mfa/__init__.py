"""A fake second factor: the code is always CODE. Exercises the hooks auth_totp uses."""

from . import controllers, models  # noqa: F401

#: the only code the fake second factor accepts
CODE = "424242"
