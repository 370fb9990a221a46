"""Delivery of one wallet's events to one connection: replay, then live, exactly once.

The seam between replay and live is where events get lost or doubled, so a
:class:`Delivery` is subscribed to live events *before* the replay is read,
and every frame goes through one rule: send seq ``last_sent + 1`` next, skip
anything at or below ``last_sent``, and when the next seq is not at hand (it
arrived out of order, or the live buffer overflowed) read it from the durable
log. A slow connection therefore never blocks the others and never costs more
than ``buffer_limit`` frames of memory: it catches up from the log instead.

Live events take a fast path when the connection is caught up and its socket
buffer has room: the frame is written at once, in the publisher's call, like
websockets' ``broadcast()`` — no task switch per connection. Anything else
(the replay, a backlog, a full socket buffer) is sent by a task that exists
only while there is such work, so an idle connection costs no task at all.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from app.gateway.log import EventLog
from app.protocol.codec import encode_frame
from app.protocol.frames import Gap, Replayed


class Link(Protocol):
    """Where a delivery writes: one connection's text frames (UTF-8 bytes)."""

    async def send(self, data: bytes) -> None:
        """Send one text frame, waiting while the peer is slow; raises once closed."""
        ...

    def send_now(self, data: bytes) -> bool:
        """Write one text frame without waiting, if the socket buffer has room;
        False (nothing written) otherwise."""
        ...


class Delivery:
    """Sends ``wallet``'s events through ``link`` in seq order, without gaps or repeats.

    The gateway calls :meth:`offer` for every live event of the wallet (from the
    moment the connection is subscribed), then :meth:`start` once it has told the
    client the log's head, and :meth:`close` when the connection ends.
    ``on_error`` hears of a failure of the sending task (the log could not be
    read, the link broke); the delivery then stops.
    """

    __slots__ = (
        "_buffer", "_buffer_limit", "_link", "_live", "_log", "_on_error", "_page",
        "_target", "_task", "acked", "last_sent", "replayed", "sent", "wallet",
    )  # fmt: skip

    def __init__(
        self,
        wallet: str,
        link: Link,
        log: EventLog,
        *,
        page: int,
        buffer_limit: int,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.wallet = wallet
        self._link = link
        self._log = log
        self._page = page
        self._buffer_limit = buffer_limit
        self._on_error = on_error
        self._buffer: deque[tuple[int, bytes]] | None = None  # made when first needed
        self._target = 0  # the newest seq known to exist
        self._task: asyncio.Task[None] | None = None
        self._live = False  # started, caught up, no task: offer() may write at once
        self.last_sent = 0
        """The seq of the last event sent (the position the client will resume from)."""
        self.acked: int | None = None
        """The newest seq the client said it stored (``ack`` frames), if any."""
        self.sent = 0
        """Event frames sent so far (replayed and live)."""
        self.replayed: int | None = None
        """How many events the replay sent, once it is done (None before, or without one)."""

    def start(self, *, since: int | None, head: int) -> None:
        """Replay after ``since`` (``None``: none) up to at least ``head``, then send
        ``replayed``; live events follow.

        ``head`` is the wallet's head as told to the client in ``ok``. A
        ``since`` beyond it (the client knows more than this log, e.g. the
        gateway's database was replaced) is treated as ``head``: new events are
        still delivered, and the client can tell from ``ok.head``.
        """
        self._target = max(self._target, head)
        if since is None:
            self.last_sent = head
            if self.last_sent < self._target:
                self._spawn(self._drain())  # offered between the subscription and now
            else:
                self._buffer = None  # anything offered so far is at or below the head
                self._live = True
        else:
            self.last_sent = min(since, head)
            self._spawn(self._replay(head))

    def offer(self, seq: int, data: bytes) -> None:
        """A live event was made durable; ``data`` is its encoded ``event`` frame."""
        if seq <= self._target:
            return  # already sent, buffered, or due to be read from the log
        self._target = seq
        if self._live and seq == self.last_sent + 1 and self._link.send_now(data):
            self.last_sent = seq
            self.sent += 1
            return
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = deque()
        # Beyond the limit the frame is dropped here and read back from the log
        # when the connection has drained what it already has.
        if len(buffer) < self._buffer_limit:
            buffer.append((seq, data))
        if self._live:
            self._spawn(self._drain())

    def catch_up(self, head: int) -> None:
        """The wallet's log reaches ``head``, announced or not: send what is missing."""
        if head > self._target:
            self._target = head
            if self._live:
                self._spawn(self._drain())

    def acknowledge(self, seq: int) -> None:
        self.acked = seq if self.acked is None else max(self.acked, seq)

    async def close(self) -> None:
        """Stop sending (the connection is over)."""
        self._live = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- the sending task ---------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._live = False
        self._task = asyncio.ensure_future(self._run(work))

    async def _run(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported, not retried: the connection is ended
            self._task = None
            if self._on_error is not None:
                self._on_error(exc)
            return
        # Caught up (no await since the drain's last check): live events may go
        # straight out again. (If the log lacked an event, the next offer retries.)
        self._task = None
        self._live = True

    async def _replay(self, head: int) -> None:
        count = 0
        while self.last_sent < head:
            sent = await self._send_page()
            if sent == 0:
                break
            count += sent
        self.replayed = count
        await self._link.send(
            encode_frame(Replayed(wallet=self.wallet, head=self.last_sent, count=count)).encode()
        )
        await self._drain()

    async def _drain(self) -> None:
        buffer = self._buffer
        while self.last_sent < self._target:
            while buffer and buffer[0][0] <= self.last_sent:
                buffer.popleft()
            if buffer and buffer[0][0] == self.last_sent + 1:
                seq, data = buffer.popleft()
                await self._link.send(data)
                self.last_sent = seq
                self.sent += 1
            elif await self._send_page() == 0:
                return
            buffer = self._buffer
        self._buffer = None  # what is left was sent from the log meanwhile

    async def _send_page(self) -> int:
        """Send the next page from the log (after a ``gap`` if events were dropped)."""
        frames = await self._log.read(self.wallet, self.last_sent, self._page)
        if not frames:
            return 0
        first = frames[0].seq
        if first > self.last_sent + 1:
            gap = Gap(wallet=self.wallet, from_seq=self.last_sent + 1, to_seq=first - 1)
            await self._link.send(encode_frame(gap).encode())
        for frame in frames:
            await self._link.send(encode_frame(frame).encode())
            self.last_sent = frame.seq
            self.sent += 1
        return len(frames)
