"""The ``seller-notifier`` command: the tray app, and the gateway/token/publish/listen tools.

Each subcommand lives in its own module with ``register(subparsers)``; heavy
imports (Qt, websockets) happen inside the command, so ``--help`` is instant and
the gateway never loads Qt.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app import __version__
from app.cli import gateway_cmd, listen_cmd, publish_cmd, token_cmd, tray_cmd
from app.cli.arguments import CommandParser, ExitCode


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="seller-notifier",
        description=(
            "Real-time notifications for marketplace sellers. Without a subcommand, "
            "starts the tray app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    tray_cmd.add_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for module in (gateway_cmd, token_cmd, publish_cmd, listen_cmd):
        module.register(subparsers)
    parser.set_defaults(run=tray_cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        # SIGINT is a normal way to stop every command.
        return ExitCode.OK
    return code


if __name__ == "__main__":
    sys.exit(main())
