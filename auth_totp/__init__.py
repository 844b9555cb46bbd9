"""auth_totp: two-factor authentication with an authenticator app (TOTP)."""

import logging

from auth_totp import cli, controllers, models, reminders, settings, wizard  # noqa: F401

_logger = logging.getLogger(__name__)


def uninstall_hook(env) -> None:
    """Log the removal; the tables and columns holding secrets are dropped by the uninstall."""
    _logger.warning(
        "auth_totp uninstalled: every TOTP secret, recovery code and trusted browser is deleted")
