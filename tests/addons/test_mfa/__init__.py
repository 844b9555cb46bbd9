"""A fake second factor (the code is always 424242) and a page behind the identity
re-check: the hooks auth_totp uses, exercised without auth_totp."""

from . import controllers, models  # noqa: F401
