import argparse

from erpcore.cli import Command
from erpcore.server import Server


class FeatureNotes(Command):
    name = "feature-notes"
    help = "count the notes of test_feature"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--prefix", default="notes")

    def run(self, server: Server, args: argparse.Namespace) -> int:
        with server.environment() as env:
            print(f"{args.prefix}: {env['test.feature.note'].search_count()}")
        return 0
