"""The built-in subcommands: serve, init, module, user, keys."""

from __future__ import annotations

import argparse
import getpass
import sys

import sqlalchemy as sa

from erpcore.cli.command import Command, CommandError
from erpcore.modules.loading import install, installed_names, uninstall
from erpcore.server import Server


def announce_admin(password: str) -> None:
    print("Database created. Administrator account: login 'admin', password:")
    print(f"    {password}")
    print("This password is shown once: sign in and change it in Preferences.", flush=True)


class Serve(Command):
    name = "serve"
    help = "start the HTTP server (creates the database on first start)"
    needs_database = False

    def run(self, server: Server, args: argparse.Namespace) -> int:
        from erpcore.service import check_deployment, check_port, serve

        # a busy port or a database workers cannot share is found before anything
        # is created, so that the first start can simply be run again, and prints
        # the password when it works
        check_deployment(server)
        check_port(server.config.http_interface, server.config.http_port)
        server.prepare_data_dir()
        if not server.is_initialised():
            announce_admin(server.initialise())
        if not server.config.smtp_server:
            print("Mail is not configured (no --smtp): messages are kept in the outbox "
                  "(erpcore mail list).", flush=True)
        return serve(server)


class Init(Command):
    name = "init"
    help = "create the database, install base and web, create the administrator"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--admin-password", help="the administrator's password "
                            "(default: a random one, printed once)")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        server.prepare_data_dir()
        if server.is_initialised():
            raise CommandError("the database is already initialised")
        password = server.initialise(args.admin_password)
        if args.admin_password:
            print("Database created. Administrator account: login 'admin'.")
        else:
            announce_admin(password)
        return 0


class Module(Command):
    name = "module"
    help = "list, install or uninstall addons"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every addon found, and its state")
        sub.add_parser("install", help="install an addon").add_argument("name")
        sub.add_parser("uninstall", help="uninstall an addon").add_argument("name")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        if args.action == "list":
            available = server.discover()
            with server.transaction() as conn:
                installed = set(installed_names(conn, available))
            for name, addon in sorted(available.items()):
                state = "installed" if name in installed else "uninstalled"
                print(f"{name:24} {state:12} {addon.manifest.name}")
            return 0
        with server.transaction() as conn:
            if args.action == "install":
                done = install(server, conn, [args.name])
                print(f"installed: {', '.join(done)}" if done else
                      f"{args.name} is already installed")
            else:
                done = uninstall(server, conn, args.name)
                print(f"uninstalled: {', '.join(done)}")
        return 0


def _ask_password(args: argparse.Namespace) -> str:
    if args.password:
        return args.password
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise CommandError("give the password with --password or on standard input")
        return line
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise CommandError("the two passwords differ")
    return first


class User(Command):
    name = "user"
    help = "list users, create one, or set a password"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every user")
        create = sub.add_parser("create", help="create a user")
        create.add_argument("login")
        create.add_argument("--password")
        create.add_argument("--name")
        create.add_argument("--email", help="the address that hears of changes to the account")
        create.add_argument("--admin", action="store_true", help="make an administrator")
        passwd = sub.add_parser("passwd", help="set a user's password")
        passwd.add_argument("login")
        passwd.add_argument("--password")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        with server.environment() as env:
            users = env["res.users"]
            if args.action == "list":
                admin = env.ref("base.group_system")
                for user in users.search([], order="login"):
                    flags = ["admin"] if admin in user.group_ids else []
                    flags += [] if user.active else ["archived"]
                    print(f"{user.login:24} {user.name:30} {' '.join(flags)}")
                return 0
            if args.action == "create":
                password = _ask_password(args)
                users._validate_new_password(password)
                groups = [env.ref("base.group_user").id]
                if args.admin:
                    groups.append(env.ref("base.group_system").id)
                users.create({"login": args.login, "name": args.name or args.login,
                              "password": password, "group_ids": groups,
                              "email": (args.email or "").strip()})
                print(f"user {args.login} created")
                return 0
            user = users.search([("login", "=", args.login)])
            if not user:
                raise CommandError(f"no user with login {args.login!r}")
            password = _ask_password(args)
            users._validate_new_password(password)
            user.write({"password": password})
            print(f"password of {args.login} changed")
            return 0


class Keys(Command):
    name = "keys"
    help = "manage the server's master keys"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rotate", help="add a new primary key and re-encrypt every stored secret")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        count = rotate_keys(server)
        print(f"new primary key {server.keyring.primary}; {count} values re-encrypted")
        return 0


def rotate_keys(server: Server) -> int:
    """Add a primary key, then re-seal every encrypted value in one transaction.

    The keyring file is written first (old keys kept), so a failure in the
    database step leaves values sealed by keys the file still has.
    """
    keyring = server.keyring
    if keyring.path is None:
        raise CommandError("the keys come from ERPCORE_SECRET_KEYS: rotate them there")
    keyring.rotate()
    keyring.save()
    count = 0
    with server.environment() as env:
        for model, field in env.registry.encrypted_fields():
            table = model._sa_table
            column = table.c[field.name]
            rows = env.conn.execute(
                sa.select(table.c.id, column).where(column.isnot(None))).all()
            for rid, value in rows:
                record = env[model._name].browse(rid)
                plain = env.unseal(value, record, field)
                if plain is False:
                    continue  # does not open: leave it as it is
                env.conn.execute(sa.update(table).where(table.c.id == rid).values(
                    {field.name: env.seal(plain, record, field)}))
                count += 1
    return count


class I18n(Command):
    name = "i18n"
    help = "extract an addon's terms into its .pot and .po files, or check them"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("extract", help="write i18n/ADDON.pot, merge into i18n/*.po"
                       ).add_argument("addon")
        sub.add_parser("check", help="fail on untranslated or stale terms").add_argument("addon")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        from erpcore import i18n

        addon = server.discover().get(args.addon)
        if addon is None:
            raise CommandError(f"unknown addon {args.addon!r}")
        if args.action == "extract":
            for path in i18n.update(addon.path):
                print(f"wrote {path}")
            return 0
        found = i18n.problems(addon.path)
        for line in found:
            print(line)
        return 1 if found else 0
