"""A test addon touching every extension point an addon has."""

from . import cli, controllers, models  # noqa: F401


def post_init_hook(env) -> None:
    """Leave a trace the tests can see: a note created at install."""
    env["test.feature.note"].create({"name": "installed by the hook"})


def uninstall_hook(env) -> None:
    """Runs before the addon's tables are dropped: the model is still there."""
    env["test.feature.note"].search([]).unlink()
