"""The web addon: the pages of the server."""

from erpcore.addons.web import controllers  # noqa: F401
