"""The ``seller-notifier`` command: the tray app, and the gateway/token/publish/listen tools.

Each subcommand lives in its own module with ``register(subparsers)``. This module
imports nothing heavy at import time, so SIGINT/SIGTERM handling is in place
before pydantic, websockets or Qt load: a signal during start-up exits 0 like any
other stop.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType


def _stop_during_startup(signum: int, frame: FrameType | None) -> None:
    # Until a command installs its own handlers there is nothing to clean up.
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    from app import __version__
    from app.cli import gateway_cmd, listen_cmd, publish_cmd, token_cmd, tray_cmd
    from app.cli.arguments import CommandParser

    parser = CommandParser(
        prog="seller-notifier",
        description=(
            "Real-time notifications for marketplace sellers. Without a subcommand, "
            "starts the tray app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    tray_cmd.add_arguments(parser)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=CommandParser
    )
    for module in (gateway_cmd, token_cmd, publish_cmd, listen_cmd):
        module.register(subparsers)
    parser.set_defaults(run=tray_cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    signal.signal(signal.SIGTERM, _stop_during_startup)
    try:
        args = build_parser().parse_args(argv)
        code: int = args.run(args)
    except KeyboardInterrupt:
        # SIGINT and SIGTERM are normal ways to stop every command.
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
