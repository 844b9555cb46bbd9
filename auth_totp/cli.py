"""``erpcore 2fa``: the server's own way to see and switch off two-factor authentication,
and to set the company policy.

For the day the administrator is the one who lost the phone: whoever can run
commands on the server can turn a user's 2FA off, and it is recorded. Under
a policy, that gives the user a new grace period, as a reset from
Utilisateurs does.
"""

from __future__ import annotations

import argparse

from auth_totp.settings import GRACE_HOURS, POLICY
from erpcore.cli import Command, CommandError
from erpcore.server import Server
from erpcore.settings import SettingError

#: how each level of the policy reads in the command's output
LEVEL_TEXT = {
    "optional": "optional (each user chooses)",
    "admins": "required for administrators",
    "all": "required for all users",
}


class TwoFactor(Command):
    name = "2fa"
    help = "two-factor authentication: status of every user, turn it off for one, the policy"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="every user, their 2FA state and last use")
        sub.add_parser("disable", help="turn 2FA off for a user").add_argument("login")
        rule = sub.add_parser("policy", help="print the company policy, or set it")
        rule.add_argument("level", nargs="?", metavar="optional|admins|all",
                          help="who must use 2FA (without it: print the current policy)")
        rule.add_argument("--grace-hours", metavar="N",
                          help="hours the users the policy newly covers may still sign in "
                          "without 2FA (default: unchanged; 48 at first)")

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
            if args.action == "policy":
                return self._policy(env, server, args)
            user = users.search([("login", "=", args.login)])
            if not user:
                raise CommandError(f"no user with login {args.login!r}")
            if not user.totp_enabled:
                print(f"2FA is already off for {args.login}")
                return 0
            user._totp_reset(server.clock())
            env["auth_totp.event"].record(user.id, "disabled", now=server.clock(), ip="cli",
                                          detail="erpcore 2fa disable")
            print(f"2FA turned off for {args.login}; their recovery codes and trusted "
                  "browsers are deleted")
            deadline = user._totp_deadline()
            if deadline is not None:
                print(f"the policy requires 2FA of {args.login}: they must turn it on again "
                      f"by {deadline:%Y-%m-%d %H:%M} UTC")
            return 0

    def _policy(self, env, server: Server, args: argparse.Namespace) -> int:
        level = env.setting(POLICY.key)
        grace = env.setting(GRACE_HOURS.key)
        if args.level is None and args.grace_hours is None:
            print(f"policy: {LEVEL_TEXT[level]}; grace period: {grace} hours")
            return 0
        try:
            if args.level is not None:
                level = POLICY.parse(args.level)
            if args.grace_hours is not None:
                grace = GRACE_HOURS.parse(args.grace_hours)
        except SettingError as exc:
            raise CommandError(f"{exc} (erpcore 2fa policy optional|admins|all "
                               "[--grace-hours N])") from exc
        # the values are checked: the command line names the actor in the audit trail
        command = " ".join(["erpcore 2fa policy", *([level] if args.level else []),
                            *([f"--grace-hours {grace}"] if args.grace_hours else [])])
        changed = env["res.users"]._totp_set_policy(level, grace, now=server.clock(),
                                                    actor_id=None, ip="cli", detail=command)
        print(f"policy: {LEVEL_TEXT[level]}; grace period: {grace} hours"
              + ("" if changed else " (unchanged)"))
        if changed and level != "optional":
            waiting = len(env["res.users"]._totp_pending_deadlines())
            print(f"{waiting} user(s) the policy requires 2FA of have not turned it on yet")
        return 0
