"""``seller-notifier`` with no subcommand: the tray app."""

from __future__ import annotations

import argparse
import signal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", action="store_true", help="run against an embedded demo gateway")
    parser.add_argument("--debug", action="store_true", help="verbose log to the log file")


def run(args: argparse.Namespace) -> int:
    # app.ui.application imports Qt only inside run(): --help stays Qt-free.
    from app.ui.application import run as run_tray_app

    try:
        return run_tray_app(demo=bool(args.demo), debug=bool(args.debug))
    finally:
        # The app is down; a late signal while the interpreter winds down must
        # not turn exit 0 into a kill.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
