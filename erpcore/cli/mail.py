"""``erpcore mail``: reading the outbox and sending failed messages again.

For the administrators of the server (whoever runs its commands). The
bodies are not printed: they hold nothing secret, but the list is for
seeing what went where and why it failed.
"""

from __future__ import annotations

import argparse

from erpcore.cli.command import Command, CommandError
from erpcore.mail.outbox import utc
from erpcore.server import Server


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


class Mail(Command):
    name = "mail"
    help = "the outbox: list messages, or send failed ones again"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the messages, newest first")
        listing.add_argument("--failed", action="store_true",
                             help="only the messages given up on")
        listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
        retry = sub.add_parser("retry", help="send failed messages again (all, or one)")
        retry.add_argument("id", nargs="?", type=int, help="the message's ID (erpcore mail list)")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        with server.environment() as env:
            mails = env["mail.mail"]
            if args.action == "list":
                domain = [("state", "=", "exception")] if args.failed else []
                found = mails.search(domain, limit=max(args.limit, 1))
                print(f"{'ID':>6} {'STATE':9} {'QUEUED':20} {'TO':30} {'TRIES':>5} SUBJECT")
                for mail in found:
                    print(f"{mail.id:>6} {mail.state:9} {_when(mail.create_date):20} "
                          f"{mail.email_to[:30]:30} {mail.attempts:>5} {mail.subject}")
                    if mail.state != "sent" and mail.failure_reason:
                        print(f"{'':>6} last failure: {mail.failure_reason}")
                if not found:
                    print("no failed message" if args.failed else "the outbox is empty")
                return 0
            if args.id is not None:
                chosen = mails.browse(args.id).exists() if args.id > 0 else mails.browse()
                if not chosen:
                    raise CommandError(f"no message with ID {args.id}")
                if chosen.state == "sent":
                    raise CommandError(f"message {args.id} was sent already")
            else:
                chosen = mails.search([("state", "=", "exception")])
            now = utc(server.clock())
            # a new day of retries from now, at once
            chosen.write({"state": "outgoing", "scheduled_date": now, "due_date": now,
                          "attempts": 0, "claimed_until": False, "claim_token": False})
            print(f"{len(chosen)} message(s) will be sent again"
                  + ("" if server.config.smtp_server else
                     " by a server started with --smtp"))
            return 0
