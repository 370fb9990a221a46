"""``seller-notifier publish --server URL [--key KEY] [FILE|-]``: publish JSON lines.

Each line is ``{"wallet": "0x…", "event": {…}, "id": "optional idempotency key"}``.
Invalid lines are reported (``line N: reason``) and skipped; the rest are
published, pipelined. Exit 0 only when every line was acknowledged as durable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from app.cli.arguments import ExitCode, fail, server_url_argument

if TYPE_CHECKING:
    from app.client.publisher import Publisher, PublishItem

BATCH: Final = 500
"""Lines published together; answers are awaited per batch, sends are pipelined."""
_QUEUED_LINES: Final = 4 * BATCH
MAX_LINE: Final = 1 << 20
"""Longer lines are refused unread (an event frame is at most 64 KiB anyway)."""
_EXAMPLE: Final = '{"wallet": "0x…", "event": {"type": "new_order", …}, "id": "optional"}'


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "publish",
        help="publish events (JSON lines) to a gateway",
        description=(
            f"Publish events read as JSON lines, one per line: {_EXAMPLE}. "
            "A line whose id was published before is acknowledged as a duplicate "
            "and not delivered again."
        ),
    )
    parser.add_argument(
        "--server", required=True, type=server_url_argument, metavar="URL",
        help="the gateway, e.g. ws://127.0.0.1:8765",
    )  # fmt: skip
    parser.add_argument(
        "--key",
        help=(
            "publish key (default: $SELLER_NOTIFIER_PUBLISH_KEY, else the key of this "
            "machine's gateway); prefer the variable, arguments are visible to other users"
        ),
    )
    parser.add_argument(
        "--allow-insecure", action="store_true",
        help="allow ws:// to another machine (the key then crosses the network unencrypted)",
    )  # fmt: skip
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE|-", help="JSON lines (default: stdin)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from app.config.paths import app_paths
    from app.config.secrets import SecretMissing, publish_key

    key = args.key
    if not key:
        try:
            key = publish_key(app_paths().gateway_dir)
        except SecretMissing as exc:
            fail(f"{exc}, or pass --key")
            return ExitCode.FAILURE
    insecure = args.allow_insecure
    if args.file == "-":
        return asyncio.run(_publish(args.server, key, sys.stdin.buffer, insecure))
    try:
        source = Path(args.file).open("rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        fail(f"cannot read {args.file}: {exc.strerror or exc}")
        return ExitCode.USAGE
    with source:
        return asyncio.run(_publish(args.server, key, source, insecure))


class _Tally:
    def __init__(self) -> None:
        self.published = 0
        self.duplicates = 0
        self.rejected = 0
        self.unacknowledged = 0
        self.resume_from: int | None = None
        """The first line not acknowledged when the connection was lost."""

    def summary(self) -> str:
        events = "event" if self.published == 1 else "events"
        text = f"published {self.published} {events} ({self.duplicates} duplicates)"
        if self.rejected:
            text += f", {self.rejected} line{'s' if self.rejected != 1 else ''} rejected"
        if self.unacknowledged:
            text += f", {self.unacknowledged} not acknowledged"
        return text


async def _publish(url: str, key: str, source: IO[bytes], allow_insecure: bool = False) -> int:
    from app.client.publisher import Publisher, PublisherUnavailable, PublishRefused

    try:
        publisher = Publisher(url, key, allow_insecure=allow_insecure)
        await publisher.connect()
    except PublishRefused as exc:
        fail(f"the gateway at {url} refused the publish key: {exc.message}")
        return ExitCode.REFUSED
    except PublisherUnavailable as exc:
        fail(exc.message)
        return ExitCode.UNAVAILABLE

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    tally = _Tally()
    lines = _Input(source)
    lost = asyncio.ensure_future(publisher.wait_closed())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            reading = asyncio.ensure_future(lines.batch(tally))
            await asyncio.wait({reading, stop, lost}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done() and lost.done() and lines.at_end:
                # The rest of the input is already read: lost only if lines remain.
                await reading
            if not reading.done():
                reading.cancel()
                if lost.done() and not stop.done():
                    tally.resume_from = lines.next_line
                break
            batch = reading.result()
            if batch and lost.done():
                tally.resume_from = batch[0][0]
                break
            if not batch:
                break
            # A signal now still lets this batch finish: its lines get their answers.
            await _publish_batch(publisher, batch, tally)
            if stop.done():
                break
    finally:
        stop.cancel()
        await publisher.close()
        await lost
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

    print(tally.summary(), file=sys.stderr)
    if tally.resume_from is not None:
        fail(
            f"lost the connection to {url} at line {tally.resume_from}: publish from there "
            "again (lines with an id are not stored twice)"
        )
        return ExitCode.UNAVAILABLE
    if stopping.is_set():
        print("interrupted: the rest of the input was not published", file=sys.stderr)
    return ExitCode.FAILURE if tally.rejected else ExitCode.OK


async def _publish_batch(
    publisher: Publisher, batch: list[tuple[int, PublishItem]], tally: _Tally
) -> None:
    from app.client.publisher import PublishRejected
    from app.protocol.frames import ErrorCode

    results = await publisher.publish_many(item for _, item in batch)
    for (number, _), result in zip(batch, results, strict=True):
        if not isinstance(result, PublishRejected):
            tally.published += 1
            tally.duplicates += result.duplicate
        elif result.code == ErrorCode.UNAVAILABLE and not publisher.is_connected:
            tally.unacknowledged += 1
            if tally.resume_from is None:
                tally.resume_from = number
        else:
            tally.rejected += 1
            print(f"line {number}: refused by the gateway: {result.message}", file=sys.stderr)


class _Input:
    """Lines of ``source`` as they arrive, read by a daemon thread so a slow pipe never
    blocks the event loop (and a pending read of stdin never keeps the process alive)."""

    def __init__(self, source: IO[bytes]) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[tuple[int, bytes | None] | None] = asyncio.Queue()
        # Back-pressure: the reader stays at most this many lines ahead.
        self._room = threading.Semaphore(_QUEUED_LINES)
        self._source = source
        self.finished = False
        self.next_line = 1
        """The number of the first line not taken yet."""
        self.at_end = False
        """Every line has been read (some may not be taken yet)."""
        threading.Thread(target=self._read, name="publish-input", daemon=True).start()

    def _read(self) -> None:
        try:
            for number, raw in enumerate(_lines(self._source.fileno()), start=1):
                self._room.acquire()
                self._loop.call_soon_threadsafe(self._lines.put_nowait, (number, raw))
            self._loop.call_soon_threadsafe(self._end)
        except (OSError, ValueError, RuntimeError):
            # Unreadable input ends it; RuntimeError: the loop closed before we did.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._end)

    def _end(self) -> None:
        self.at_end = True
        self._lines.put_nowait(None)

    async def batch(self, tally: _Tally) -> list[tuple[int, PublishItem]]:
        """The valid lines available now (waiting for at least one line or the end);
        invalid lines are reported and counted. Empty once the input is finished."""
        batch: list[tuple[int, PublishItem]] = []
        while not batch and not self.finished:
            entries = [await self._lines.get()]
            while len(entries) < BATCH and not self._lines.empty():
                entries.append(self._lines.get_nowait())
            for entry in entries:
                if entry is None:
                    self.finished = True
                    break
                self._room.release()
                number, raw = entry
                self.next_line = number + 1
                parsed = _parse_line(raw)
                if isinstance(parsed, str):
                    tally.rejected += 1
                    print(f"line {number}: {parsed}", file=sys.stderr)
                elif parsed is not None:
                    batch.append((number, parsed))
        return batch


def _lines(fd: int) -> Iterator[bytes | None]:
    """Lines read with ``os.read`` (None for a line longer than :data:`MAX_LINE`).

    A thread blocked in ``os.read`` holds none of the locks of ``sys.stdin``,
    which the interpreter takes at exit (a blocked ``readline`` makes it abort).
    """
    pending: list[bytes] = []
    size = 0
    while chunk := os.read(fd, 1 << 16):
        *complete, rest = chunk.split(b"\n")
        for part in complete:
            yield None if size + len(part) > MAX_LINE else b"".join([*pending, part])
            pending, size = [], 0
        if size <= MAX_LINE:  # past the limit only the line's end is awaited
            pending.append(rest)
        size += len(rest)
    if size:
        yield None if size > MAX_LINE else b"".join(pending)


def _parse_line(raw: bytes | None) -> PublishItem | str | None:
    """The line's item, a one-line reason it is invalid, or None for a blank line."""
    if raw is None:
        return f"longer than {MAX_LINE} bytes"
    from pydantic import ValidationError

    from app.protocol.codec import describe_error
    from app.protocol.events import KNOWN_EVENTS, is_known, parse_event
    from app.protocol.wallet import InvalidWallet, normalize_wallet

    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return "not JSON: nested too deeply"
    if not isinstance(value, dict):
        return f"expected a JSON object: {_EXAMPLE}"
    unexpected = sorted(set(value) - {"wallet", "event", "id"})
    if unexpected:
        return f"unexpected field(s) {', '.join(map(repr, unexpected))}: expected {_EXAMPLE}"
    wallet, data, event_id = value.get("wallet"), value.get("event"), value.get("id")
    if not isinstance(wallet, str):
        return 'missing "wallet": the seller\'s 0x address'
    try:
        wallet = normalize_wallet(wallet)
    except InvalidWallet as exc:
        return str(exc)
    if not isinstance(data, dict):
        return 'missing "event": an object with a "type"'
    if event_id is not None and not (isinstance(event_id, str) and 1 <= len(event_id) <= 128):
        return '"id" must be a string of 1 to 128 characters'
    try:
        event = parse_event(data)
    except ValidationError as exc:
        return f"invalid {data.get('type')} event: {describe_error(exc, union=True)}"
    if not is_known(event):
        return f"unknown event type {event.type!r} (known: {', '.join(KNOWN_EVENTS)})"
    return wallet, event, event_id
