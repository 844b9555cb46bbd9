"""The ``erpcore`` command. Addons add subcommands by subclassing :class:`Command`."""

from erpcore.cli.command import Command, CommandError

__all__ = ["Command", "CommandError"]
