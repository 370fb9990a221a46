"""Shared pieces of the command line: exit codes, argument types, one-line errors."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from enum import IntEnum
from typing import NoReturn

from app import __version__
from app.protocol.wallet import InvalidWallet, normalize_wallet


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the command ran and something went wrong (e.g. an invalid publish line)
    USAGE = 2  # bad arguments
    REFUSED = 3  # the gateway refused our credentials
    UNAVAILABLE = 4  # the gateway could not be reached


class CommandParser(argparse.ArgumentParser):
    """argparse that adds ``--version`` to every subcommand and errors in one line."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.prog != "seller-notifier":
            self.add_argument(
                "--version", action="version", version=f"seller-notifier {__version__}"
            )

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(ExitCode.USAGE)


def fail(message: str) -> None:
    """Print a one-line error for a person, on stderr."""
    print(f"seller-notifier: {message}", file=sys.stderr)


def wallet_argument(text: str) -> str:
    try:
        return normalize_wallet(text)
    except InvalidWallet as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration_argument(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` → timedelta."""
    match = _DURATION.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 30d, 12h, 90m"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def server_url_argument(text: str) -> str:
    """A ws:// or wss:// URL with a host."""
    from urllib.parse import urlsplit

    parts = urlsplit(text.strip())
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a gateway URL: expected ws://HOST:PORT or wss://HOST"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} has an invalid port") from None
    return text.strip()
