"""The built-in subcommands: serve, init, module, user, keys, config, throttle, i18n."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import ipaddress
import sys

import sqlalchemy as sa

from erpcore import db, throttle
from erpcore.cli.command import Command, CommandError
from erpcore.modules.addons import installed_names
from erpcore.modules.loading import create_database, install, uninstall
from erpcore.server import Server
from erpcore.settings import SettingError


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
        if server.is_initialised():
            server.check_keyring()
        else:
            announce_admin(create_database(server))
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
        parser.add_argument("--password-rounds", type=int, default=None,
                            help="pbkdf2_sha512 rounds of password hashes (default 600000; "
                            "later: erpcore config set base.password_rounds N)")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        server.prepare_data_dir()
        if server.is_initialised():
            raise CommandError("the database is already initialised")
        password = create_database(server, args.admin_password, args.password_rounds)
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
        if args.action == "uninstall":
            db.truncate_wal(server.engine)  # the removed rows must not outlive it in the log
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
        server.record_keys(env.conn)
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


class Config(Command):
    name = "config"
    help = "show or change the settings of the installed addons"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        get = sub.add_parser("get", help="one setting's value, or every setting")
        get.add_argument("key", nargs="?")
        change = sub.add_parser("set", help="change a setting (every server sees it at once)")
        change.add_argument("key")
        change.add_argument("value")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        with server.environment() as env:
            settings = env.registry.settings
            try:
                if args.action == "set":
                    setting = settings.setting(args.key)
                    if setting.command:
                        raise CommandError(f"{args.key} is changed with '{setting.command}'")
                    value = settings.set(env.conn, args.key, args.value)
                    print(f"{args.key} = {setting.format(value)}")
                    if settings.overridden(args.key):
                        print(f"note: {setting.env} is set in this environment and wins "
                              "over the stored value where it is set")
                    return 0
                keys = [args.key] if args.key else list(settings.declared)
                for key in keys:
                    setting = settings.setting(key)
                    value = setting.format(settings.get(env.conn, key))
                    if args.key:
                        print(value)
                    else:
                        source = f" (from {setting.env})" if settings.overridden(key) else ""
                        how = f" (changed with '{setting.command}')" if setting.command else ""
                        print(f"{key} = {value}{source}    # {setting.help}{how}")
            except SettingError as exc:
                raise CommandError(str(exc)) from exc
        return 0


class Throttle(Command):
    name = "throttle"
    help = "see and clear the failure counters of sign-ins and codes"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every counter, waits running first")
        sub.add_parser("clear", help="clear every counter of a login or an address"
                       ).add_argument("subject", metavar="LOGIN|ADDRESS")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        now = server.clock()
        with server.environment() as env:
            key = env.keyring.derive("throttle")
            users = env["res.users"].search([])
            logins = {throttle.login_digest(key, user.login): user.login for user in users}
            uids = {str(user.id): user.login for user in users}
            if args.action == "clear":
                return self._clear(env, key, args.subject)
            print(f"{'KIND':14} {'LOGIN':20} {'ADDRESS':40} {'FAILS':>5}  WAIT")
            for row in throttle.rows(env.conn):
                parsed = throttle.parse_key(row.key)
                login = logins.get(parsed.get("login", ""), "") or uids.get(parsed.get("uid", ""))
                if not login and ("login" in parsed or "uid" in parsed):
                    login = "(no such login)"
                wait = max(0, round(row.locked_until - now))
                until = dt.datetime.fromtimestamp(row.locked_until, dt.UTC)
                shown = f"{wait} s (until {until:%Y-%m-%d %H:%M:%S} UTC)" if wait else "-"
                print(f"{parsed['kind']:14} {login or '-':20} {parsed.get('address', '-'):40} "
                      f"{row.failures:>5}  {shown}")
        return 0

    def _clear(self, env, key: bytes, subject: str) -> int:
        try:
            address = str(ipaddress.ip_address(subject))
        except ValueError:
            address = None
        if address is not None:
            count = throttle.clear(env.conn, address=address)
        else:
            user = env["res.users"].search([("login", "=", subject)], limit=1)
            count = throttle.clear(env.conn, login=throttle.login_digest(key, subject),
                                   uid=user.id if user else None)
        print(f"{count} counter(s) of {subject} cleared")
        return 0


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
