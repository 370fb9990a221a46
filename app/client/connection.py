"""``SellerClient``: the thin websockets adapter around :class:`ClientSession`.

It only moves frames and decides *when* to reconnect; what the frames mean is
the session's business. One retry-or-stop rule (``SellerClient._closed_outcome``)
covers every way a connection ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import socket
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
from app.client.session import (
    WRONG_WALLET,
    Authenticated,
    ClientSession,
    Delivered,
    GapDetected,
    Ignored,
    Refused,
    ReplayDone,
    ResyncNeeded,
    ServerError,
    SessionState,
    dispatch_key,
)
from app.client.status import ConnectionState, ConnectionStatus
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
)
from app.protocol.model import WireModel
from app.store.events import ClientStore

logger = logging.getLogger("seller_notifier.client")

HEALTHY_AFTER: Final = 30.0
"""A connection that stayed up this long (seconds) resets the backoff."""
AUTH_TIMEOUT: Final = 15.0
"""Seconds the gateway has, once the socket is open, to say hello and accept the token."""
OPEN_TIMEOUT: Final = 10.0
MAX_RETRY_AFTER: Final = 3600.0
"""A gateway's retry hint is honoured up to this many seconds."""
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

    @property
    def latency(self) -> float: ...

    async def recv(self) -> str | bytes: ...

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


ConnectFactory = Callable[[str], Awaitable[WebSocket]]
"""Opens a WebSocket to a URL; raises ``OSError``/``TimeoutError``/websockets errors."""
EventCallback = Callable[[EventFrame], object]
StatusCallback = Callable[[ConnectionStatus], object]
Unsubscribe = Callable[[], None]


def websocket_factory(heartbeat: Heartbeat) -> ConnectFactory:
    """The default ``connect``: websockets with the protocol's limits and ``heartbeat``."""

    def open_websocket(url: str) -> Awaitable[WebSocket]:
        return websockets_connect(
            url,
            max_size=MAX_FRAME_BYTES,
            ping_interval=heartbeat.interval,
            ping_timeout=heartbeat.timeout,
            open_timeout=OPEN_TIMEOUT,
            # A gateway that stopped answering pings will not answer a close either.
            close_timeout=min(heartbeat.timeout, 10.0),
            # Frames are small JSON; deflate would cost memory per connection for little.
            compression=None,
            user_agent_header=f"seller-notifier/{__version__}",
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


class SellerClient:
    """Stays connected to a gateway and hands each new event to callbacks.

    ``store``: events are recorded there before callbacks see them and a
    restart resumes from it; without one, ids are deduplicated in memory and
    nothing is replayed unless ``since`` is given. ``wallet``: refuse a token
    that authenticates another wallet. ``connect``, ``rng``: seams for tests.

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
    ) -> None:
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(f"{url!r} is not a gateway URL: {exc}") from None
        self.url = url
        self._session = ClientSession(token, since=since, store=store, wallet=wallet)
        self._backoff = backoff if backoff is not None else Backoff()
        self._heartbeat = heartbeat if heartbeat is not None else Heartbeat()
        self._connect = connect if connect is not None else websocket_factory(self._heartbeat)
        self._rng = rng
        self._status = ConnectionStatus(ConnectionState.DISCONNECTED, server=url)
        self._event_callbacks: dict[str, list[EventCallback]] = {}
        self._status_callbacks: list[StatusCallback] = []
        self._replay_callbacks: list[Callable[[ReplayDone], object]] = []
        self._gap_callbacks: list[Callable[[GapDetected], object]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ws: WebSocket | None = None
        self._delivered_here = 0
        """Events delivered on the current connection (a useful one resets the backoff)."""
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._running: asyncio.Task[Any] | None = None
        self._finished = asyncio.Event()

    # --- state ---------------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def since(self) -> int | None:
        """What the next connection will ask to replay after."""
        return self._session.since

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
        self._finished.clear()
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
                if ended.healthy:
                    delays = self._backoff.delays(self._rng)
                delay = next(delays)
                if ended.retry_after is not None:
                    # The jitter still spreads the clients of one restarting gateway.
                    delay += min(ended.retry_after, MAX_RETRY_AFTER)
                self._update(
                    state=ConnectionState.BACKING_OFF,
                    reason=f"{ended.reason}; retrying in {delay:.1f} s",
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                    latency=None,
                )
                logger.info("%s; retrying in %.1f s", ended.reason, delay)
                await self._until_stopped(asyncio.sleep(delay))
                reconnects += 1
        finally:
            if self._status.state is not ConnectionState.STOPPED:
                self._update(state=ConnectionState.STOPPED, reason="stopped", next_attempt_at=None)
            self._running = None
            # A stop() is used up by the run it ended; the next run() starts afresh.
            self._stopping = False
            self._stop_event.clear()
            self._finished.set()

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

    async def _connect_once(self, reconnects: int) -> _Ended:
        self._update(
            state=ConnectionState.CONNECTING,
            reason=f"connecting to {self.url}",
            next_attempt_at=None,
            latency=None,
            reconnects=reconnects,
        )
        try:
            ws = await self._until_stopped(self._connect(self.url))
        except (OSError, TimeoutError, WebSocketException) as exc:
            return _Ended(f"gateway unreachable at {self.url}: {_describe_connect_error(exc)}")
        if ws is None:
            return _Ended("stopped")
        self._ws = ws
        if self._stopping:  # stop() came while the socket was being handed over
            await ws.close(CloseCode.NORMAL, "client stopped")
        self._session.connection_made()
        self._update(state=ConnectionState.AUTHENTICATING, reason=f"authenticating with {self.url}")
        loop = asyncio.get_running_loop()
        opened = loop.time()
        latency = asyncio.create_task(self._watch_latency(ws))
        self._delivered_here = 0
        try:
            ended = await self._receive(ws)
        finally:
            latency.cancel()
            self._ws = None
            await ws.close(CloseCode.NORMAL, "")
        if not ended.resync:
            ended.healthy = self._delivered_here > 0 or loop.time() - opened >= HEALTHY_AFTER
        return ended

    async def _receive(self, ws: WebSocket) -> _Ended:
        fatal: ServerError | None = None
        auth_deadline = asyncio.get_running_loop().time() + AUTH_TIMEOUT
        while True:
            try:
                if self._session.state in (SessionState.REPLAYING, SessionState.LIVE):
                    data = await ws.recv()
                else:
                    async with asyncio.timeout_at(auth_deadline):
                        data = await ws.recv()
            except ConnectionClosed as exc:
                return self._closed_outcome(exc, fatal)
            except TimeoutError:
                return _Ended(
                    f"gateway at {self.url} did not complete authentication "
                    f"within {AUTH_TIMEOUT:.0f} s"
                )
            events = self._session.receive(data)
            try:
                for text in self._session.frames_to_send():
                    await ws.send(text)
            except ConnectionClosed as exc:
                return self._closed_outcome(exc, fatal)
            for event in events:
                match event:
                    case Delivered():
                        self._delivered_here += 1
                        self._deliver(event.frame)
                    case Authenticated():
                        self._update(
                            state=ConnectionState.CONNECTED,
                            wallet=event.wallet,
                            reason=f"connected as {event.wallet} (head {event.head})",
                        )
                    case ReplayDone():
                        self._notify(self._replay_callbacks, event, "replay-done")
                    case GapDetected():
                        self._notify(self._gap_callbacks, event, "gap")
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

    def _closed_outcome(self, closed: ConnectionClosed, fatal: ServerError | None) -> _Ended:
        """The one retry-or-stop rule for a connection the gateway (or the network) ended."""
        received = closed.rcvd
        code = received.code if received is not None else None
        said = received.reason if received is not None else ""
        hint = _retry_hint(said)
        if fatal is not None and fatal.retry_after is not None:
            hint = fatal.retry_after if hint is None else max(hint, fatal.retry_after)
        if code in PERMANENT_CLOSE_CODES:
            return _Ended(f"token refused: {said or 'the gateway refused it'}", permanent=True)
        where = f"gateway at {self.url}"
        explained = said or (fatal.message if fatal is not None else "")
        if code is None and fatal is None:
            sent = closed.sent
            if sent is not None and sent.code == WebSocketCloseCode.INTERNAL_ERROR:
                reason = f"{where} stopped answering pings"
            else:
                reason = f"connection to {where} lost"
        elif code == CloseCode.GOING_AWAY or (
            fatal is not None and fatal.code == ErrorCode.SERVER_SHUTDOWN
        ):
            reason = f"{where} is shutting down"
        elif code in (CloseCode.POLICY, CloseCode.TRY_AGAIN_LATER):
            reason = f"{where} asks to wait" + (f": {explained}" if explained else "")
        elif fatal is not None:
            reason = f"{where} reported an error: {fatal.message}"
        else:
            reason = f"{where} closed the connection ({code}" + (f": {said})" if said else ")")
        return _Ended(reason, retry_after=hint)

    async def _watch_latency(self, ws: WebSocket) -> None:
        # websockets measures latency on each keepalive pong; reading it once per
        # interval is enough for a status line and costs nothing.
        while True:
            await asyncio.sleep(self._heartbeat.interval)
            if ws.latency > 0:
                self._update(latency=ws.latency)

    async def _until_stopped(self, awaitable: Awaitable[T]) -> T | None:
        """Await ``awaitable`` unless :meth:`stop` comes first (then None)."""
        task = asyncio.ensure_future(awaitable)
        stopped = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
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
        self._status = dataclasses.replace(self._status, last_event_at=datetime.now(UTC))

    def _notify(self, callbacks: list[Callable[[T], object]], value: T, what: str) -> None:
        for callback in list(callbacks):
            self._call(callback, value, what)

    def _update(self, **changes: Any) -> None:
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
    return refused.message if refused.code == WRONG_WALLET else f"token refused: {refused.message}"


def _retry_hint(reason: str) -> float | None:
    match = _RETRY_HINT.search(reason)
    return float(match.group(1)) if match else None


def _describe_connect_error(error: Exception) -> str:
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
