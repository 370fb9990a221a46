"""``seller-notifier listen --server URL --wallet 0x… --token T``: a wallet's events as JSON lines.

One line per event on stdout, flushed as it arrives, for scripts and for looking
at a gateway by hand::

    {"seq": 12, "id": "…", "wallet": "0x…", "event": {"type": "new_order", "orderId": …}}

Reconnects until interrupted (SIGINT/SIGTERM: exit 0). Exit 3 when the token is
refused or belongs to another wallet, 2 on bad arguments. Keeps no store:
without ``--since`` only live events are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from app.cli.arguments import ExitCode, fail, server_url_argument, wallet_argument

if TYPE_CHECKING:
    from app.client import ConnectionStatus
    from app.protocol import EventFrame

TOKEN_ENV: Final = "SELLER_NOTIFIER_TOKEN"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "listen",
        help="print a wallet's events as JSON lines",
        description=(
            "Connect to a gateway as a seller device and print each event as one JSON "
            "line on stdout. Reconnects until interrupted."
        ),
    )
    parser.add_argument(
        "--server", required=True, type=server_url_argument, metavar="URL",
        help="the gateway, e.g. ws://127.0.0.1:8765",
    )  # fmt: skip
    parser.add_argument(
        "--wallet", required=True, type=wallet_argument, metavar="0x…",
        help="the wallet the token must be for",
    )  # fmt: skip
    parser.add_argument(
        "--token",
        metavar="T",
        help=(
            f"device token (default: ${TOKEN_ENV}); prefer the variable, arguments are "
            "visible to other users"
        ),
    )
    parser.add_argument(
        "--since", type=_seq_argument, metavar="SEQ",
        help="first replay the retained events after SEQ (0: all); default: live only",
    )  # fmt: skip
    parser.add_argument(
        "--verbose", action="store_true", help="describe connection changes on stderr"
    )
    parser.set_defaults(run=run)


def _seq_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seq: use a whole number, 0 or more")
    return value


def run(args: argparse.Namespace) -> int:
    token = (args.token or os.environ.get(TOKEN_ENV, "")).strip()
    if not token:
        fail(f"no token: pass --token or set {TOKEN_ENV}")
        return ExitCode.USAGE
    # Library warnings (a gap, an unreadable frame) become one plain line each.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("seller-notifier: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    return asyncio.run(_listen(args.server, args.wallet, token, args.since, args.verbose))


async def _listen(url: str, wallet: str, token: str, since: int | None, verbose: bool) -> int:
    from app.client import AuthRefused, SellerClient

    client = SellerClient(url, token, since=since, wallet=wallet)
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    def request_stop() -> None:
        stopping.add(loop.create_task(client.stop()))

    def print_event(frame: EventFrame) -> None:
        if not _write_line(_event_line(frame)):
            request_stop()  # the reader went away (e.g. `| head`): nothing left to do

    client.on("*", print_event)
    if verbose:
        client.on_status(_status_printer())
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        # Not available on Windows' loop: there SIGINT stays KeyboardInterrupt (exit 0 too).
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(number, request_stop)
    try:
        await client.run()
    except AuthRefused as exc:
        fail(exc.message)
        return ExitCode.REFUSED
    finally:
        for number in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(number)
        if stopping:
            await asyncio.gather(*stopping)
    return ExitCode.OK


def _event_line(frame: EventFrame) -> str:
    from app.protocol import event_to_wire

    record = {
        "seq": frame.seq,
        "id": frame.id,
        "wallet": frame.wallet,
        "event": event_to_wire(frame.event),
    }
    return json.dumps(record, ensure_ascii=False)


def _write_line(line: str) -> bool:
    """Print and flush one line; False once stdout is closed by the reader."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False
    return True


def _status_printer() -> Callable[[ConnectionStatus], None]:
    from app.client import ConnectionState

    last: list[tuple[ConnectionState, str]] = []

    def show(status: ConnectionStatus) -> None:
        key = (status.state, status.reason)
        # Latency and last-event updates are not state changes; a refusal is
        # printed once, by the exit path.
        if (last and last[0] == key) or (
            status.state is ConnectionState.STOPPED and status.reason != "stopped"
        ):
            return
        last[:] = [key]
        print(status.reason, file=sys.stderr, flush=True)

    return show
