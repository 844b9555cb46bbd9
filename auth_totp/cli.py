"""``erpcore 2fa``: the server's own way to see and switch off two-factor authentication.

For the day the administrator is the one who lost the phone: whoever can run
commands on the server can turn a user's 2FA off, and it is recorded.
"""

from __future__ import annotations

import argparse

from erpcore.cli import Command, CommandError
from erpcore.server import Server


class TwoFactor(Command):
    name = "2fa"
    help = "two-factor authentication: status of every user, or turn it off for one"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="every user, their 2FA state and last use")
        sub.add_parser("disable", help="turn 2FA off for a user").add_argument("login")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        with server.environment() as env:
            users = env["res.users"]
            if args.action == "status":
                print(f"{'LOGIN':24} {'2FA':8} {'RECOVERY':9} LAST USE")
                for user in users.search([], order="login"):
                    left = env["auth_totp.recovery_code"].remaining(user.id)
                    state = "on" if user.totp_enabled else "off"
                    last = user.totp_last_used.strftime("%Y-%m-%d %H:%M UTC") \
                        if user.totp_last_used else "-"
                    print(f"{user.login:24} {state:8} {left if user.totp_enabled else '-':<9} "
                          f"{last}")
                return 0
            user = users.search([("login", "=", args.login)])
            if not user:
                raise CommandError(f"no user with login {args.login!r}")
            if not user.totp_enabled:
                print(f"2FA is already off for {args.login}")
                return 0
            user._totp_disable()
            env["auth_totp.event"].record(user.id, "disabled", now=server.clock(), ip="cli",
                                          detail="erpcore 2fa disable")
            print(f"2FA turned off for {args.login}; their recovery codes and trusted "
                  "browsers are deleted")
            return 0
