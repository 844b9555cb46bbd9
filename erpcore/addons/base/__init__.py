"""The base addon: users, groups, password hashing."""

from erpcore.addons.base import models  # noqa: F401
