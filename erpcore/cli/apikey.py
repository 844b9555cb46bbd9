"""``erpcore apikey``: make, list and revoke API keys from the server's command line.

``create`` prints the key alone on standard output, so that a deployment
script can capture it (``KEY=$(erpcore apikey create robot --name import)``);
it is never written anywhere else. Without ``--days`` the key does not expire,
as an administrator may choose in the pages: whoever runs this command holds
the database already. Events are audited with no actor: the command line.
"""

from __future__ import annotations

import argparse

from erpcore.cli.command import Command, CommandError
from erpcore.server import Server


class ApiKey(Command):
    name = "apikey"
    help = "make, list and revoke the API keys of users (for the external API)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a key for LOGIN and print it, once")
        create.add_argument("login")
        create.add_argument("--name", required=True, help="what the key is for")
        create.add_argument("--days", type=int, default=None,
                            help="days before it expires (default: never)")
        listing = sub.add_parser("list", help="the keys of every user, or of LOGIN")
        listing.add_argument("login", nargs="?")
        sub.add_parser("revoke", help="revoke the key ID (see 'apikey list')"
                       ).add_argument("id", type=int)

    def run(self, server: Server, args: argparse.Namespace) -> int:
        now = server.clock()
        with server.environment() as env:
            keys = env["res.users.apikeys"]
            if args.action == "create":
                user = self._user(env, args.login)
                if not user.active:
                    raise CommandError(f"user {args.login!r} is archived")
                _record, key = keys._generate(user, args.name, days=args.days, now=now)
                print(key)
                return 0
            if args.action == "revoke":
                key = keys.browse(args.id).exists()
                if not key:
                    raise CommandError(f"no API key with id {args.id}")
                key._revoke(now=now)
                print(f"API key {args.id} revoked")
                return 0
            domain = [("user_id", "=", self._user(env, args.login).id)] if args.login else []
            print(f"{'ID':>6}  {'LOGIN':20} {'DESCRIPTION':30} {'CREATED':16} {'LAST USED':16} "
                  "EXPIRES")
            for key in keys.search(domain, order="id"):
                expires = f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "never"
                if key._expired(now):
                    expires += " (expired)"
                used = f"{key.last_used:%Y-%m-%d %H:%M}" if key.last_used else "never"
                print(f"{key.id:>6}  {key.user_id.login:20} {key.name[:30]:30} "
                      f"{key.create_date:%Y-%m-%d %H:%M} {used:16} {expires}")
        return 0

    def _user(self, env, login: str):
        user = env["res.users"].search([("login", "=", login)], limit=1)
        if not user:
            raise CommandError(f"no user with login {login!r}")
        return user
