"""``seller-notifier listen --server URL --wallet 0x… --token T``: a wallet's events as JSON lines.

One line per event on stdout, flushed as it arrives, for scripts and for looking
at a gateway by hand::

    {"seq": 12, "id": "…", "wallet": "0x…", "event": {"type": "new_order", "orderId": …}}

Reconnects until interrupted (SIGINT/SIGTERM: exit 0). Exit 3 when the token is
refused or belongs to another wallet, 2 on bad arguments, 1 when ``--store``
cannot be opened. Without ``--store`` nothing is kept: without ``--since`` only
live events are printed. With ``--store FILE`` each event is saved there before
it is printed, and a restart (even after a crash) resumes where the file
stops: every event is printed once. ``--verbose`` describes each change of
the connection (and of its quality) on stderr.
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from app.cli.arguments import ExitCode, fail, server_url_argument, wallet_argument

if TYPE_CHECKING:
    from app.client import ConnectionStatus
    from app.protocol import EventFrame
    from app.store import ClientStore
    from app.store.gaps import GapLog
    from app.store.outbox import Outbox

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
        "--store", type=Path, metavar="FILE",
        help="keep events in this SQLite file and resume from it after a restart",
    )  # fmt: skip
    parser.add_argument(
        "--verbose", action="store_true", help="describe connection changes on stderr"
    )
    parser.add_argument(
        "--allow-insecure", action="store_true",
        help="allow ws:// to another machine (the token then crosses the network unencrypted)",
    )  # fmt: skip
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
    from app.client.refusals import InsecureConnection, refuse_insecure

    try:
        refuse_insecure(args.server, allow_insecure=args.allow_insecure)
    except InsecureConnection as exc:
        fail(str(exc))
        return ExitCode.USAGE
    # Library warnings (a gap, an unreadable frame) become one plain line each.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("seller-notifier: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    from app.store import StoreError

    try:
        keeping = _Keeping.open(args.store)
    except StoreError as exc:
        fail(str(exc))
        return ExitCode.FAILURE
    try:
        return asyncio.run(
            _listen(
                args.server, args.wallet, token, args.since, args.verbose, keeping,
                allow_insecure=args.allow_insecure,
            )  # fmt: skip
        )
    finally:
        keeping.close()


@dataclass
class _Keeping:
    """The store, outbox and gap records of ``--store`` (all None without it)."""

    store: ClientStore | None = None
    outbox: Outbox | None = None
    gaps: GapLog | None = None

    @classmethod
    def open(cls, path: Path | None) -> _Keeping:
        """Open the three parts of one file (the store first: it creates the file)."""
        from app.store import ClientStore
        from app.store.gaps import GapLog
        from app.store.outbox import Outbox

        keeping = cls()
        if path is None:
            return keeping
        try:
            keeping.store = ClientStore(path)
            keeping.outbox = Outbox(path)
            keeping.gaps = GapLog(path)
        except BaseException:
            keeping.close()
            raise
        return keeping

    def close(self) -> None:
        for part in (self.gaps, self.outbox, self.store):
            if part is not None:
                part.close()


async def _listen(
    url: str,
    wallet: str,
    token: str,
    since: int | None,
    verbose: bool,
    keeping: _Keeping,
    *,
    allow_insecure: bool = False,
) -> int:
    from app.client import AuthRefused, SellerClient

    client = SellerClient(
        url,
        token,
        since=since,
        wallet=wallet,
        store=keeping.store,
        outbox=keeping.outbox,
        gaps=keeping.gaps,
        allow_insecure=allow_insecure,
    )
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
    from app.client import ConnectionState, LinkQuality

    last: list[tuple[ConnectionState, str]] = []
    quality: list[LinkQuality | None] = [None]

    def show(status: ConnectionStatus) -> None:
        key = (status.state, status.reason)
        # A refusal is printed once, by the exit path.
        if (not last or last[0] != key) and not (
            status.state is ConnectionState.STOPPED and status.reason != "stopped"
        ):
            last[:] = [key]
            print(status.reason, file=sys.stderr, flush=True)
        # Latency alone changes at every ping: only a change of level is news.
        if status.quality is not None and status.quality is not quality[0]:
            latency = f" (round trip {status.latency * 1000:.0f} ms)" if status.latency else ""
            print(f"link quality {status.quality}{latency}", file=sys.stderr, flush=True)
        quality[0] = status.quality

    return show
