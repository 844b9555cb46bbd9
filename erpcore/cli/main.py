"""Entry point of the ``erpcore`` command.

Errors are one line on standard error and a non-zero exit, never a traceback
(``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy.exc import DBAPIError

from erpcore.cli import apikey, builtin, mail  # noqa: F401 - registers the built-in commands
from erpcore.cli.command import Command, CommandError, command_classes
from erpcore.config import SMTP_SECURITY, Config, ConfigError, default_data_dir
from erpcore.db import DatabaseURLError, is_initialised
from erpcore.keys import KeyringError
from erpcore.modules.addons import AddonError, installed_names
from erpcore.modules.manifest import ManifestError
from erpcore.orm import UserError
from erpcore.registry import RegistryError
from erpcore.server import Server, ServerError
from erpcore.settings import SettingError

EXPECTED_ERRORS = (CommandError, ServerError, AddonError, ManifestError, DatabaseURLError,
                   KeyringError, UserError, RegistryError, SettingError, ConfigError, OSError)


class ArgumentParser(argparse.ArgumentParser):
    """Usage mistakes are one line too, like every other error of the command.

    Options are never abbreviated: ``--password`` of a subcommand must not be
    taken for the global ``--password-rounds``.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _PasswordNotHere(argparse.Action):
    """``--smtp-password``: refused without echoing it; a command line is seen by ``ps``."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error("the SMTP password is not an option: set ERPCORE_SMTP_PASSWORD")


def global_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """The options of every command, which may come before or after its name."""
    parser = ArgumentParser(prog="erpcore", description="erpcore ERP server", add_help=add_help)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"data directory (default {default_data_dir()}, env ERPCORE_DATA_DIR)")
    parser.add_argument("--db", dest="db_url", default=None,
                        help="database URL (default: SQLite in the data directory), "
                        "e.g. postgresql://user@/erpcore")
    parser.add_argument("--addons-path", default=None,
                        help="extra addon folders, separated by commas")
    parser.add_argument("--http-interface", default=None, help="default 127.0.0.1")
    parser.add_argument("--http-port", type=int, default=None, help="default 8069")
    parser.add_argument("--workers", type=int, default=None,
                        help="0 = one process (default); N = N processes")
    parser.add_argument("--http-threads", type=int, default=None,
                        help="requests handled at once by each process (default 8)")
    parser.add_argument("--http-timeout", type=int, default=None,
                        help="seconds a connection may stay silent before it is closed "
                        "(default 30)")
    parser.add_argument("--http-connection-limit", type=int, default=None,
                        help="connections each process keeps open at most (default 500)")
    parser.add_argument("--proxy-mode", action="store_true", default=None,
                        help="behind a reverse proxy: trust X-Forwarded-* headers")
    parser.add_argument("--public-url", default=None,
                        help="the address users reach the server at, for links in mail "
                        "(default http://HTTP-INTERFACE:HTTP-PORT, env ERPCORE_PUBLIC_URL)")
    parser.add_argument("--smtp", dest="smtp_server", default=None, metavar="HOST",
                        help="SMTP server that sends mail (env ERPCORE_SMTP); without it, "
                        "mail is kept in the outbox. Password: env ERPCORE_SMTP_PASSWORD")
    parser.add_argument("--smtp-port", type=int, default=None, metavar="PORT",
                        help="default 25 (env ERPCORE_SMTP_PORT)")
    parser.add_argument("--smtp-ssl", default=None, metavar="|".join(SMTP_SECURITY),
                        help="none (default), starttls or ssl (env ERPCORE_SMTP_SSL)")
    parser.add_argument("--smtp-user", default=None, metavar="USER",
                        help="SMTP login (env ERPCORE_SMTP_USER)")
    parser.add_argument("--smtp-password", action=_PasswordNotHere, nargs="?",
                        help=argparse.SUPPRESS)
    parser.add_argument("--email-from", default=None, metavar="ADDRESS",
                        help="sender of mail (default erpcore@HOST, env ERPCORE_EMAIL_FROM)")
    parser.add_argument("--log-level", default=None,
                        help="debug, info, warning, error (default: info for serve, "
                        "warning for the other commands, whose output is their answer)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def make_config(args: argparse.Namespace) -> Config:
    addons_path = None
    if args.addons_path:
        addons_path = [Path(p).expanduser() for p in args.addons_path.split(",") if p]
    return Config.from_env(
        data_dir=args.data_dir, db_url=args.db_url, addons_path=addons_path,
        http_interface=args.http_interface, http_port=args.http_port, workers=args.workers,
        http_threads=args.http_threads, http_timeout=args.http_timeout,
        http_connection_limit=args.http_connection_limit, proxy_mode=args.proxy_mode,
        public_url=args.public_url, smtp_server=args.smtp_server, smtp_port=args.smtp_port,
        smtp_ssl=args.smtp_ssl, smtp_user=args.smtp_user, email_from=args.email_from,
    )


def load_addon_commands(server: Server) -> None:
    """Import the installed addons so that their commands register themselves."""
    try:
        with server.engine.connect() as conn:
            if not is_initialised(conn):
                return
            available = server.discover()
            for name in installed_names(conn, available):
                available[name].module()
    except DBAPIError:
        return  # the command itself will report the database problem


def full_parser(server: Server) -> argparse.ArgumentParser:
    parser = global_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    seen: set[str] = set()
    for _addon, cls in command_classes:
        if cls.name in seen:
            continue
        seen.add(cls.name)
        command = cls()
        command_parser = sub.add_parser(cls.name, help=cls.help, description=cls.help)
        command_parser.set_defaults(handler=command)
        command.add_arguments(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # the global options first (they choose the database, whose addons add commands)
    known, rest = global_parser(add_help=False).parse_known_args(argv)
    command_name = next((word for word in rest if not word.startswith("-")), "")
    level = known.log_level or ("info" if command_name == "serve" else "warning")
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    try:
        server = Server(make_config(known))
        load_addon_commands(server)
        args = full_parser(server).parse_args(rest)
        command: Command = args.handler
        if command.needs_database:
            server.prepare_data_dir()
            with server.engine.connect() as conn:
                if not is_initialised(conn):
                    raise CommandError("the database is not initialised: run 'erpcore init' "
                                       "or 'erpcore serve' first")
            server.check_keyring()
        return command.run(server, args) or 0
    except KeyboardInterrupt:
        return 130
    except EXPECTED_ERRORS as exc:
        if known.debug:
            raise
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"erpcore: error: {message}", file=sys.stderr)
        return 1
    except DBAPIError as exc:
        if known.debug:
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else exc.__class__.__name__
        print(f"erpcore: error: database: {reason}", file=sys.stderr)
        return 1
    except Exception as exc:  # never a traceback for the user
        if known.debug:
            raise
        print(f"erpcore: error: {exc.__class__.__name__}: {exc}".splitlines()[0],
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
