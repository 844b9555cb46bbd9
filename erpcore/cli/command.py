"""The base class of ``erpcore`` subcommands, built-in and from addons.

An addon adds a subcommand by defining a :class:`Command` subclass in a module
its package imports; it is offered once the addon is installed::

    class TwoFactor(Command):
        name = "2fa"
        help = "two-factor authentication"

        def add_arguments(self, parser): ...
        def run(self, server, args) -> int: ...
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, ClassVar

from erpcore.modules.addons import addon_of_module

if TYPE_CHECKING:
    from erpcore.server import Server

#: every command class Python has imported, with its addon
command_classes: list[tuple[str, type[Command]]] = []


class CommandError(Exception):
    """A command cannot do what it was asked; the message is printed as one line."""


class Command:
    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: whether the command needs an initialised database
    needs_database: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            command_classes.append((addon_of_module(cls.__module__), cls))

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's own arguments."""

    def run(self, server: Server, args: argparse.Namespace) -> int:
        raise NotImplementedError
