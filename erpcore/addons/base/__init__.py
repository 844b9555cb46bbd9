"""The base addon: users, groups, password hashing, the sign-in door."""

from erpcore.addons.base import models, settings  # noqa: F401
