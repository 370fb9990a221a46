"""``SellerClient``: the thin websockets adapter around :class:`ClientSession`.

It only moves frames and decides *when* to reconnect; what the frames mean is
the session's business. One retry-or-stop rule (``SellerClient._closed_outcome``)
covers every way a connection ends. Its own pings (:mod:`app.client.health`)
measure latency and quality and abort a link that stopped answering;
:meth:`SellerClient.reconnect_now` (wake from sleep, network change) skips
the backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, TypeVar

from websockets.asyncio.client import connect as websockets_connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.frames import CloseCode as WebSocketCloseCode
from websockets.uri import parse_uri

from app import __version__
from app.client.backoff import Backoff, Heartbeat
from app.client.health import LinkHealth
from app.client.refusals import explain_connect_error, explain_refusal, refuse_insecure
from app.client.session import (
    WRONG_WALLET,
    Authenticated,
    ClientSession,
    Delivered,
    GapDetected,
    Ignored,
    MessageSettled,
    Refused,
    ReplayDone,
    ResyncNeeded,
    ServerError,
    SessionEvent,
    SessionState,
    dispatch_key,
)
from app.client.status import ConnectionState, ConnectionStatus
from app.config.log_redaction import without_frame_debug
from app.protocol import (
    MAX_FRAME_BYTES,
    PERMANENT_CLOSE_CODES,
    AnalyticsUpdate,
    CacheInvalidate,
    CloseCode,
    ErrorCode,
    EventFrame,
    NewOrder,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    TierUpgraded,
    normalize_wallet,
)
from app.protocol.model import WireModel
from app.store.events import ClientStore
from app.store.gaps import GapLog
from app.store.outbox import Outbox, OutboxMessage

logger = logging.getLogger("seller_notifier.client")

HEALTHY_AFTER: Final = 30.0
"""A connection that stayed up this long (seconds) resets the backoff."""
AUTH_TIMEOUT: Final = 15.0
"""Seconds the gateway has, once the socket is open, to say hello and accept the token."""
OPEN_TIMEOUT: Final = 10.0
MAX_RETRY_AFTER: Final = 3600.0
"""A gateway's retry hint is honoured up to this many seconds."""
SEND_RATE: Final = 10.0
"""Frames per second this client sends at most, on average (a gateway allows 20 by
default and throttles a device beyond): a long outbox is paced, never a burst."""
SEND_BURST: Final = 50
"""Frames sent back to back before :data:`SEND_RATE` applies."""
RECEIVE_SLICE: Final = 0.008
"""Seconds of receiving (storing, delivering) before the event loop gets a turn."""
RECEIVE_BATCH: Final = 100
"""Buffered frames handled together (their events stored in one transaction)."""
_ANY_WALLET: Final = "0x" + "00" * 20
_RETRY_HINT: Final = re.compile(r"retry\s+after\s+(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)

T = TypeVar("T")
E = TypeVar("E", bound=WireModel)


class AuthRefused(Exception):
    """The gateway refused the token for good (or it is for another wallet).

    ``message`` is a sentence for the seller; a new token is needed.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WebSocket(Protocol):
    """What the client needs from a connection (websockets' ``ClientConnection`` fits).

    ``recv`` and ``send`` raise ``websockets.exceptions.ConnectionClosed`` once closed.
    """

    async def recv(self) -> str | bytes: ...

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    async def ping(self) -> Awaitable[float]:
        """Send a WebSocket ping; the result completes with the round trip at the pong."""
        ...


ConnectFactory = Callable[[str], Awaitable[WebSocket]]
"""Opens a WebSocket to a URL; raises ``OSError``/``TimeoutError``/websockets errors."""
EventCallback = Callable[[EventFrame], object]
StatusCallback = Callable[[ConnectionStatus], object]
Unsubscribe = Callable[[], None]


def websocket_factory(heartbeat: Heartbeat) -> ConnectFactory:
    """The default ``connect``: websockets with the protocol's limits.

    Its keepalive is off: :class:`SellerClient` sends the pings itself
    (``heartbeat``) to measure the link's quality and to drop a dead link at once.
    """

    def open_websocket(url: str) -> Awaitable[WebSocket]:
        return websockets_connect(
            url,
            max_size=MAX_FRAME_BYTES,
            ping_interval=None,
            ping_timeout=None,
            open_timeout=OPEN_TIMEOUT,
            # A gateway that does not answer a close soon is not worth waiting for.
            close_timeout=min(heartbeat.pong_timeout, 5.0),
            # Frames are small JSON; deflate would cost memory per connection for little.
            compression=None,
            user_agent_header=f"seller-notifier/{__version__}",
            # Its DEBUG output holds every frame's text, the device token included.
            logger=without_frame_debug("seller_notifier.client.websockets"),
        )

    return open_websocket


@dataclass
class _Ended:
    """How one connection ended, and what that means for the next attempt."""

    reason: str
    retry_after: float | None = None
    permanent: bool = False
    resync: bool = False
    healthy: bool = False
    woken: bool = False
    """Ended by :meth:`SellerClient.reconnect_now`: try again without a backoff."""
    graceful: bool = False
    """The gateway shut down in order (close 1001 / ``server_shutdown``): it said when
    to come back, and a restart is no failure of this client's."""


class SellerClient:
    """Stays connected to a gateway and hands each new event to callbacks.

    ``store``: events are recorded there before callbacks see them and a
    restart resumes from it; without one, ids are deduplicated in memory and
    nothing is replayed unless ``since`` is given. ``wallet``: refuse a token
    that authenticates another wallet. ``outbox``: where messages for the
    gateway (acks, read marks, preferences) wait while offline (default: in
    memory); ``gaps``: where lost ranges are recorded. ``allow_insecure``:
    accept ``ws://`` to another machine (else ``InsecureConnection``, a
    ``ValueError``). ``connect``, ``rng``: seams for tests.

    Callbacks run on the event loop, one at a time, in the order events were
    received (see ``docs/client-api.md``); one that raises is logged and skipped.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        store: ClientStore | None = None,
        since: int | None = None,
        wallet: str | None = None,
        backoff: Backoff | None = None,
        heartbeat: Heartbeat | None = None,
        connect: ConnectFactory | None = None,
        rng: random.Random | None = None,
        outbox: Outbox | None = None,
        gaps: GapLog | None = None,
        allow_insecure: bool = False,
    ) -> None:
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(f"{url!r} is not a gateway URL: {exc}") from None
        refuse_insecure(url, allow_insecure=allow_insecure)  # ws:// to another machine
        self.url = url
        self._session = ClientSession(
            token, since=since, store=store, wallet=wallet, outbox=outbox, gaps=gaps
        )
        self._backoff = backoff if backoff is not None else Backoff()
        self._heartbeat = heartbeat if heartbeat is not None else Heartbeat()
        self._connect = connect if connect is not None else websocket_factory(self._heartbeat)
        self._rng = rng
        self._status = ConnectionStatus(ConnectionState.DISCONNECTED, server=url)
        self._last_event_at: datetime | None = None
        self._event_callbacks: dict[str, list[EventCallback]] = {}
        self._status_callbacks: list[StatusCallback] = []
        self._replay_callbacks: list[Callable[[ReplayDone], object]] = []
        self._gap_callbacks: list[Callable[[GapDetected], object]] = []
        self._message_callbacks: list[Callable[[MessageSettled], object]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._delivering: bool | None = None
        """While a batch's events are delivered: whether they are replayed ones."""
        self._ws: WebSocket | None = None
        self._outgoing: asyncio.Queue[str] | None = None
        """Frames for the current connection's writer (None between connections)."""
        self._delivered_here = 0
        """Events delivered on the current connection (a useful one resets the backoff)."""
        self._signed_in_here = False
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._running: asyncio.Task[Any] | None = None
        self._finished = asyncio.Event()
        self._wake_event = asyncio.Event()
        self._wake_reason: str | None = None
        self._link_verdict: str | None = None
        """Why this client itself cut the current link (dead, woken), for the status."""
        self._not_before = 0.0
        """Wall-clock time before which the gateway asked not to come back (retry hint)."""

    # --- state ---------------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        self._catch_up_status()
        return self._status

    def _catch_up_status(self) -> None:
        # last_event_at is noted per event without building a new status each time.
        if self._last_event_at != self._status.last_event_at:
            self._status = dataclasses.replace(self._status, last_event_at=self._last_event_at)

    @property
    def since(self) -> int | None:
        """What the next connection will ask to replay after."""
        return self._session.since

    @property
    def replaying(self) -> bool:
        """True while the events missed while offline are being delivered.

        Event callbacks that run while it is True get replayed events: an app
        can list them at once and summarise them after :meth:`on_replay_done`.
        """
        if self._delivering is not None:
            # Frames are handled in batches: the session may be past the replay's end
            # while the batch's replayed events are still being delivered.
            return self._delivering
        return self._session.state is SessionState.REPLAYING

    @property
    def outbox(self) -> Outbox:
        """The messages still waiting for the gateway."""
        return self._session.outbox

    # --- subscriptions --------------------------------------------------------------

    def on(self, event_type: str, callback: EventCallback) -> Unsubscribe:
        """Call ``callback(frame)`` for each new event of ``event_type`` (``"*"``: all).

        Returns a function that unsubscribes (calling it twice is harmless).
        """
        return _subscribe(self._event_callbacks.setdefault(event_type, []), callback)

    def on_status(self, callback: StatusCallback) -> Unsubscribe:
        """Call ``callback(status)`` whenever :attr:`status` changes."""
        return _subscribe(self._status_callbacks, callback)

    def on_replay_done(self, callback: Callable[[ReplayDone], object]) -> Unsubscribe:
        """Call ``callback(done)`` once the events missed while offline were delivered."""
        return _subscribe(self._replay_callbacks, callback)

    def on_gap(self, callback: Callable[[GapDetected], object]) -> Unsubscribe:
        """Call ``callback(gap)`` when the gateway no longer has events this device missed."""
        return _subscribe(self._gap_callbacks, callback)

    def on_message_settled(self, callback: Callable[[MessageSettled], object]) -> Unsubscribe:
        """Call ``callback(settled)`` when the gateway confirms (or refuses for good) a message."""
        return _subscribe(self._message_callbacks, callback)

    def on_new_order(self, callback: Callable[[NewOrder, EventFrame], object]) -> Unsubscribe:
        return self._on_typed("new_order", NewOrder, callback)

    def on_order_status_changed(
        self, callback: Callable[[OrderStatusChanged, EventFrame], object]
    ) -> Unsubscribe:
        return self._on_typed("order_status_changed", OrderStatusChanged, callback)

    def on_payment_received(
        self, callback: Callable[[PaymentReceived, EventFrame], object]
    ) -> Unsubscribe:
        return self._on_typed("payment_received", PaymentReceived, callback)

    def on_tier_upgrade(
        self, callback: Callable[[TierUpgraded, EventFrame], object]
    ) -> Unsubscribe:
        return self._on_typed("tier_upgraded", TierUpgraded, callback)

    def on_review_received(
        self, callback: Callable[[ReviewReceived, EventFrame], object]
    ) -> Unsubscribe:
        return self._on_typed("review_received", ReviewReceived, callback)

    def on_analytics_update(
        self, callback: Callable[[AnalyticsUpdate, EventFrame], object]
    ) -> Unsubscribe:
        return self._on_typed("analytics_update", AnalyticsUpdate, callback)

    def on_cache_invalidate(
        self, callback: Callable[[CacheInvalidate, EventFrame], object]
    ) -> Unsubscribe:
        return self._on_typed("cache_invalidate", CacheInvalidate, callback)

    def _on_typed(
        self, event_type: str, model: type[E], callback: Callable[[E, EventFrame], object]
    ) -> Unsubscribe:
        def forward(frame: EventFrame) -> object:
            event = frame.event
            return callback(event, frame) if isinstance(event, model) else None

        return self.on(event_type, forward)

    # --- running --------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until :meth:`stop`; then return.

        Raises :class:`AuthRefused` when the token is refused for good (the
        status is then ``stopped`` with the reason). A ``stop()`` that came
        before ``run()`` makes it return at once.
        """
        if self._running is not None:
            raise RuntimeError("SellerClient.run() is already running")
        self._running = asyncio.current_task()
        # The first checksum imports the keccak backend (18–120 ms): pay it now, before
        # any event, rather than as a stall in the middle of the first burst.
        normalize_wallet(_ANY_WALLET)
        self._finished.clear()
        self._wake_event.clear()
        self._wake_reason = None
        delays = self._backoff.delays(self._rng)
        reconnects = 0
        try:
            while not self._stopping:
                ended = await self._connect_once(reconnects)
                if self._stopping:
                    break
                if ended.permanent:
                    self._update(state=ConnectionState.STOPPED, reason=ended.reason)
                    raise AuthRefused(ended.reason)
                if ended.retry_after is not None:
                    # On the wall clock: a machine that sleeps through the hint has waited.
                    hint = min(ended.retry_after, MAX_RETRY_AFTER)
                    self._not_before = max(self._not_before, time.time() + hint)
                woken = self._take_wake()
                if woken is not None or ended.woken:
                    # Woken from sleep, or the network came back: the old backoff is stale.
                    delays = self._backoff.delays(self._rng)
                    delay = max(0.0, self._not_before - time.time())
                    reason = f"{ended.reason}; reconnecting now"
                else:
                    if ended.healthy:
                        delays = self._backoff.delays(self._rng)
                    # The jitter still spreads the clients of one restarting gateway.
                    delay = next(delays) + max(0.0, self._not_before - time.time())
                    reason = f"{ended.reason}; retrying in {delay:.1f} s"
                self._update(
                    state=ConnectionState.BACKING_OFF,
                    reason=reason,
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                    latency=None,
                    quality=None,
                )
                logger.info("%s", reason)
                await self._back_off(delay)
                reconnects += 1
        finally:
            if self._status.state is not ConnectionState.STOPPED:
                self._update(
                    state=ConnectionState.STOPPED,
                    reason="stopped",
                    next_attempt_at=None,
                    latency=None,
                    quality=None,
                )
            self._running = None
            # A stop() is used up by the run it ended; the next run() starts afresh.
            self._stopping = False
            self._stop_event.clear()
            self._finished.set()

    async def _back_off(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less if :meth:`reconnect_now` comes (a gateway's
        retry hint is still honoured then) or :meth:`stop` does."""
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        while not self._stopping:
            remaining = until - loop.time()
            if remaining <= 0:
                return
            woken = await self._until_stopped(self._wake_event.wait(), timeout=remaining)
            if woken is None:
                return
            reason = self._take_wake()
            hint_left = self._not_before - time.time()
            if hint_left <= 0:
                logger.info("%s: reconnecting now", reason)
                return
            until = loop.time() + hint_left
            self._update(
                reason=f"{reason}; the gateway asked to wait {hint_left:.1f} s more",
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=hint_left),
            )

    def reconnect_now(self, reason: str) -> None:
        """Reconnect at once, without waiting for the backoff (a gateway's retry hint
        still counts): the machine woke from sleep, or the network changed.

        A link that looks connected is dropped too: after a sleep or a network
        change it is probably dead, and a fresh one resumes without loss. Does
        nothing when :meth:`run` is not running. Call it on the event loop's thread.
        """
        if self._running is None or self._stopping:
            return
        logger.info("%s: reconnecting at once", reason)
        self._wake_reason = reason
        self._wake_event.set()
        ws = self._ws
        if ws is not None:
            self._cut(ws, reason)

    def _take_wake(self) -> str | None:
        reason, self._wake_reason = self._wake_reason, None
        self._wake_event.clear()
        return reason

    async def stop(self) -> None:
        """Close the connection (code 1000) or cut the backoff short; ``run()`` returns.

        Waits until ``run()`` has returned, unless called from inside it.
        """
        self._stopping = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None:
            await ws.close(CloseCode.NORMAL, "client stopped")
        running = self._running
        if running is not None and running is not asyncio.current_task():
            await self._finished.wait()

    # --- sending --------------------------------------------------------------------

    async def send_message(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        key: str | None = None,
        slot: str | None = None,
        ttl: timedelta | None = None,
    ) -> OutboxMessage:
        """Queue a message for the gateway and send it now if connected.

        It stays in the outbox (which survives restarts when it is on disk)
        until the gateway confirms it — :meth:`on_message_settled` tells when —
        and is sent again after every reconnect until then; ``key`` (default: a
        random one) lets the gateway apply it once. ``slot``: replaces a message
        of the same slot still waiting. ``ttl``: drop it if still unsent by then
        (default: the outbox's). Raises ``ValueError`` for a kind or body the
        protocol refuses (kind: lowercase letters, digits, ``_.-``; body: a JSON
        object under 64 KiB), ``StoreError`` if it cannot be queued.
        """
        message = self._session.send_message(kind, body, key=key, slot=slot, ttl=ttl)
        await self._flush()
        return message

    async def mark_read(self, seq: int) -> OutboxMessage:
        """Tell the gateway the seller has read the events up to ``seq`` (the latest
        read mark replaces an older one still waiting)."""
        wallet = self._session.wallet or self._status.wallet
        if wallet is None:
            raise RuntimeError("the wallet is not known before the first sign-in")
        return await self.send_message(
            "read_mark", {"wallet": wallet, "seq": seq}, slot=f"read_mark:{wallet}"
        )

    async def update_preferences(self, preferences: dict[str, Any]) -> OutboxMessage:
        """Tell the gateway the seller's notification preferences (newest replaces older)."""
        return await self.send_message("preferences", preferences, slot="preferences")

    async def _flush(self) -> None:
        """Send what the session has queued, if a signed-in connection is open."""
        if self._session.state in (SessionState.REPLAYING, SessionState.LIVE):
            self._enqueue(self._session.frames_to_send())

    def _enqueue(self, frames: list[str]) -> None:
        """Hand frames to the current connection's writer (lost with the connection:
        the outbox keeps whatever still matters)."""
        outgoing = self._outgoing
        if outgoing is not None:
            for text in frames:
                outgoing.put_nowait(text)

    async def _write(self, ws: WebSocket, outgoing: asyncio.Queue[str]) -> None:
        """Send the connection's frames in order, at most :data:`SEND_RATE` a second."""
        loop = asyncio.get_running_loop()
        tokens, refilled = float(SEND_BURST), loop.time()
        while True:
            text = await outgoing.get()
            now = loop.time()
            tokens = min(float(SEND_BURST), tokens + (now - refilled) * SEND_RATE)
            refilled = now
            if tokens < 1:
                # Pacing, not synchronisation: wait for the next token.
                await asyncio.sleep((1 - tokens) / SEND_RATE)
                tokens, refilled = 1.0, loop.time()
            tokens -= 1
            try:
                await ws.send(text)
            except ConnectionClosed:
                return  # the receiving side reports it

    # --- one connection -------------------------------------------------------------

    async def _connect_once(self, reconnects: int) -> _Ended:
        self._update(
            state=ConnectionState.CONNECTING,
            reason=f"connecting to {self.url}",
            next_attempt_at=None,
            latency=None,
            quality=None,
            reconnects=reconnects,
        )
        self._link_verdict = None
        try:
            ws = await self._until_stopped(self._connect(self.url), wake=True)
        except (OSError, TimeoutError, WebSocketException) as exc:
            return _Ended(f"gateway unreachable at {self.url}: {_describe_connect_error(exc)}")
        if ws is None:
            if self._stopping:
                return _Ended("stopped")
            return _Ended(f"{self._wake_reason or 'woken'} while connecting", woken=True)
        self._ws = ws
        if self._stopping:  # stop() came while the socket was being handed over
            await ws.close(CloseCode.NORMAL, "client stopped")
        self._session.connection_made()
        self._update(state=ConnectionState.AUTHENTICATING, reason=f"authenticating with {self.url}")
        loop = asyncio.get_running_loop()
        opened = loop.time()
        outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._outgoing = outgoing
        helpers = [
            asyncio.create_task(self._write(ws, outgoing), name="seller-client-writer"),
            asyncio.create_task(self._watch_health(ws), name="seller-client-health"),
        ]
        self._delivered_here = 0
        self._signed_in_here = False
        try:
            ended = await self._receive(ws)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._outgoing = None
            self._ws = None
            self._session.connection_lost()
            if self._link_verdict is None:
                await ws.close(CloseCode.NORMAL, "")
        if not ended.resync:
            # Useful (it brought events), long-lived, or ended by an orderly restart after
            # a sign-in: the gateway works, so the next wait starts short again.
            ended.healthy = (
                self._delivered_here > 0
                or loop.time() - opened >= HEALTHY_AFTER
                or (ended.graceful and self._signed_in_here)
            )
        return ended

    async def _receive(self, ws: WebSocket) -> _Ended:
        fatal: ServerError | None = None
        auth_deadline = asyncio.get_running_loop().time() + AUTH_TIMEOUT
        slice_started = time.monotonic()
        while True:
            if time.monotonic() - slice_started >= RECEIVE_SLICE:
                # recv() returns without suspending while frames are buffered: without
                # this, a burst would hold the event loop (and the Qt UI) to its end.
                await asyncio.sleep(0)
                slice_started = time.monotonic()
            try:
                if self._session.state in (SessionState.REPLAYING, SessionState.LIVE):
                    batch = [await ws.recv()]
                    while len(batch) < RECEIVE_BATCH and _buffered(ws):
                        batch.append(await ws.recv())  # buffered: does not suspend
                else:
                    async with asyncio.timeout_at(auth_deadline):
                        batch = [await ws.recv()]
            except ConnectionClosed as exc:
                return self._closed_outcome(exc, fatal)
            except TimeoutError:
                return _Ended(
                    f"gateway at {self.url} did not complete authentication "
                    f"within {AUTH_TIMEOUT:.0f} s"
                )
            events = self._session.receive_many(batch)
            self._enqueue(self._session.frames_to_send())
            try:
                ended = self._dispatch(events)
            finally:
                self._delivering = None
            if isinstance(ended, _Ended):
                return ended
            if ended is not None:
                fatal = ended

    def _dispatch(self, events: list[SessionEvent]) -> _Ended | ServerError | None:
        """Act on the session's events in order: an end of the connection, a fatal
        server error to remember for the close that follows, or None."""
        fatal: ServerError | None = None
        for event in events:
            match event:
                case Delivered():
                    self._delivered_here += 1
                    self._delivering = event.replayed
                    self._deliver(event.frame)
                case Authenticated():
                    self._signed_in_here = True
                    self._update(
                        state=ConnectionState.CONNECTED,
                        wallet=event.wallet,
                        reason=f"connected as {event.wallet} (head {event.head})",
                    )
                case ReplayDone():
                    self._delivering = False
                    self._notify(self._replay_callbacks, event, "replay-done")
                case GapDetected():
                    self._notify(self._gap_callbacks, event, "gap")
                case MessageSettled():
                    self._notify(self._message_callbacks, event, "message")
                case ResyncNeeded():
                    return _Ended(event.reason, resync=True)
                case Refused(permanent=True):
                    return _Ended(_refusal(event), permanent=True)
                case Refused():
                    return _Ended(
                        f"gateway at {self.url} refused the token for now: {event.message}"
                    )
                case ServerError(fatal=True):
                    fatal = event  # the gateway closes next; its close tells the rest
                case ServerError() | Ignored():
                    pass  # logged by the session
        return fatal

    def _closed_outcome(self, closed: ConnectionClosed, fatal: ServerError | None) -> _Ended:
        """The one retry-or-stop rule for a connection the gateway (or the network) ended."""
        if self._link_verdict is not None:
            # This client cut the link itself (dead, or woken): it says why.
            return _Ended(self._link_verdict, woken=self._wake_reason is not None)
        received = closed.rcvd
        code = received.code if received is not None else None
        said = received.reason if received is not None else ""
        hint = _retry_hint(said)
        if fatal is not None and fatal.retry_after is not None:
            hint = fatal.retry_after if hint is None else max(hint, fatal.retry_after)
        told = explain_refusal(code, fatal.code if fatal else None)  # in the seller's words
        if code in PERMANENT_CLOSE_CODES:
            refusal = told or f"token refused: {said or 'the gateway refused it'}"
            return _Ended(refusal, permanent=True)
        where = f"gateway at {self.url}"
        explained = told or said or (fatal.message if fatal is not None else "")
        if code is None and fatal is None:
            sent = closed.sent
            if sent is not None and sent.code == WebSocketCloseCode.INTERNAL_ERROR:
                reason = f"{where} stopped answering pings"
            else:
                reason = f"connection to {where} lost"
        elif code == CloseCode.GOING_AWAY or (
            fatal is not None and fatal.code == ErrorCode.SERVER_SHUTDOWN
        ):
            return _Ended(f"{where} is shutting down", retry_after=hint, graceful=True)
        elif code in (CloseCode.POLICY, CloseCode.TRY_AGAIN_LATER):
            reason = f"{where} asks to wait" + (f": {explained}" if explained else "")
        elif fatal is not None:
            reason = f"{where} reported an error: {fatal.message}"
        else:
            reason = f"{where} closed the connection ({code}" + (f": {said})" if said else ")")
        return _Ended(reason, retry_after=hint)

    async def _watch_health(self, ws: WebSocket) -> None:
        """Ping every heartbeat interval; publish latency and quality; cut a dead link."""
        loop = asyncio.get_running_loop()
        health = LinkHealth(self._heartbeat, loop.time())
        pong: asyncio.Future[float] | None = None
        try:
            while True:
                now = loop.time()
                if health.is_dead(now):
                    silent = health.silent_for(now)
                    logger.warning(
                        "gateway at %s did not answer a ping within %.1f s (silent for %.1f s)",
                        self.url,
                        self._heartbeat.pong_timeout,
                        silent,
                    )
                    self._cut(
                        ws,
                        f"gateway at {self.url} stopped answering pings "
                        f"(silent for {silent:.1f} s)",
                    )
                    return
                if health.ping_due(now):
                    # Live events are acked in batches; the heartbeat sends the rest.
                    self._enqueue(self._session.due_acks())
                    try:
                        pong = await self._send_ping(ws, now + self._heartbeat.pong_timeout)
                    except ConnectionClosed:
                        return  # the receiving side reports it
                    health.ping_sent(now)
                    if pong is None:  # not even written before the deadline: dead
                        continue
                now = loop.time()
                quality = health.quality(now)
                if quality is not self._status.quality:
                    self._update(quality=quality)
                timeout = max(0.0, health.next_check(now) - now)
                if pong is None:
                    await asyncio.sleep(timeout)
                    continue
                await asyncio.wait({pong}, timeout=timeout)
                if pong.done():
                    if pong.cancelled() or pong.exception() is not None:
                        return  # the connection closed; the receiving side reports it
                    latency = health.pong_received(loop.time(), pong.result())
                    pong = None
                    quality = health.quality(loop.time())
                    self._update(latency=latency, quality=quality)
        finally:
            if pong is not None and not pong.done():
                pong.cancel()

    async def _send_ping(self, ws: WebSocket, deadline: float) -> asyncio.Future[float] | None:
        """Send a ping; its pong as a future, or None if it could not be sent in time.

        Raises ``ConnectionClosed`` when the connection is already closed.
        """
        try:
            async with asyncio.timeout_at(deadline):
                waiter = await ws.ping()
        except TimeoutError:
            return None  # the socket's buffer is full: nothing is flowing
        return asyncio.ensure_future(waiter)

    def _cut(self, ws: WebSocket, verdict: str) -> None:
        """Drop ``ws`` at once, without a closing handshake a dead peer would not answer."""
        if self._link_verdict is None:
            self._link_verdict = verdict
        transport = getattr(ws, "transport", None)
        if isinstance(transport, asyncio.Transport):
            transport.abort()
        else:
            task = asyncio.ensure_future(ws.close(CloseCode.GOING_AWAY, "reconnecting"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _until_stopped(
        self, awaitable: Awaitable[T], *, wake: bool = False, timeout: float | None = None
    ) -> T | None:
        """Await ``awaitable`` unless :meth:`stop` comes first (then None), or with
        ``wake``, :meth:`reconnect_now` (then None), or ``timeout`` runs out (then None)."""
        task = asyncio.ensure_future(awaitable)
        interrupts = {asyncio.ensure_future(self._stop_event.wait())}
        if wake:
            interrupts.add(asyncio.ensure_future(self._wake_event.wait()))
        try:
            await asyncio.wait({task, *interrupts}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            for interrupt in interrupts:
                interrupt.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        if task.cancelled():
            return None
        return task.result()

    # --- delivering -----------------------------------------------------------------

    def _deliver(self, frame: EventFrame) -> None:
        key = dispatch_key(frame)
        callbacks = list(self._event_callbacks.get(key, ())) if key is not None else []
        callbacks += self._event_callbacks.get("*", ())
        for callback in callbacks:
            self._call(callback, frame, f"{frame.event.type} event {frame.seq}")
        # Not published: a status change per event would drown the real changes.
        self._last_event_at = datetime.now(UTC)

    def _notify(self, callbacks: list[Callable[[T], object]], value: T, what: str) -> None:
        for callback in list(callbacks):
            self._call(callback, value, what)

    def _update(self, **changes: Any) -> None:
        self._catch_up_status()
        status = dataclasses.replace(self._status, **changes)
        if status == self._status:
            return
        self._status = status
        self._notify(self._status_callbacks, status, "status")

    def _call(self, callback: Callable[[T], object], value: T, what: str) -> None:
        try:
            result = callback(value)
        except Exception:
            logger.exception("a %s callback failed (%r)", what, callback)
            return
        if asyncio.iscoroutine(result):
            # An async callback runs as its own task; the next callbacks do not wait for it.
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(lambda done: self._task_done(done, what))

    def _task_done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("a %s callback failed", what, exc_info=error)


def _buffered(ws: WebSocket) -> bool:
    """Whether a frame is already buffered, so ``recv()`` will not wait for the network.

    Reads websockets' receive queue (``recv_messages.frames``, not public API);
    any other WebSocket reports False, which only means batches of one frame.
    """
    frames = getattr(getattr(ws, "recv_messages", None), "frames", None)
    try:
        return frames is not None and len(frames) > 0
    except TypeError:
        return False


def _subscribe(callbacks: list[T], callback: T) -> Unsubscribe:
    callbacks.append(callback)
    subscribed = True

    def unsubscribe() -> None:
        nonlocal subscribed
        if not subscribed:
            return
        subscribed = False
        # One entry only: the same function may be subscribed twice, on purpose.
        for index, registered in enumerate(callbacks):
            if registered is callback:
                del callbacks[index]
                return

    return unsubscribe


def _refusal(refused: Refused) -> str:
    told = explain_refusal(None, refused.code)
    if told is not None:
        return told
    return refused.message if refused.code == WRONG_WALLET else f"token refused: {refused.message}"


def _retry_hint(reason: str) -> float | None:
    match = _RETRY_HINT.search(reason)
    return float(match.group(1)) if match else None


def _describe_connect_error(error: Exception) -> str:
    if (told := explain_connect_error(error)) is not None:  # TLS: certificate not trusted …
        return told
    match error:
        case ConnectionRefusedError():
            return "connection refused"
        case socket.gaierror():
            return f"host not found ({error.strerror})"
        case TimeoutError():
            return "no answer (timed out)"
        case InvalidStatus():
            return f"it answered HTTP {error.response.status_code} instead of a WebSocket"
        case OSError() if error.strerror:
            return error.strerror[0].lower() + error.strerror[1:]
    return str(error) or type(error).__name__
