"""The gateway: a websockets server that authenticates devices and publishers,
replays each wallet's log and fans live events out.

One connection, one role. A seller device sends ``auth`` with its token and gets
only its own wallet's events; a publisher sends ``publisher_auth`` with the
publish key and may then ``publish`` to any wallet. ``GET /healthz`` answers
``200 ok`` for load balancers and supervisors.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from http import HTTPStatus
from types import TracebackType
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app import __version__
from app.config.secrets import GatewaySecrets
from app.gateway.delivery import Delivery
from app.gateway.log import Appended, EventLog, EventLogError
from app.gateway.tokens import TokenRefused, verify_token
from app.protocol.codec import ProtocolError, decode_client_frame, encode_frame
from app.protocol.events import KNOWN_EVENTS, SellerEvent, is_known
from app.protocol.frames import (
    MAX_FRAME_BYTES,
    Ack,
    Auth,
    CloseCode,
    ErrorCode,
    ErrorFrame,
    EventFrame,
    Hello,
    Ok,
    Ping,
    Pong,
    Publish,
    Published,
    PublisherAuth,
)
from app.protocol.wallet import normalize_wallet

_log = logging.getLogger("seller_notifier.gateway")

SHUTDOWN_RETRY_AFTER: Final = 1.0
SHUTDOWN_REASON: Final = "server shutdown; retry after 1s"


class GatewayConfig(BaseModel):
    """How a :class:`Gateway` listens and paces its connections."""

    model_config = ConfigDict(frozen=True)

    secrets: GatewaySecrets
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8765
    """0 picks a free port; read it back from :attr:`Gateway.port`."""
    heartbeat: Annotated[float, Field(gt=0)] = 20.0
    """Seconds between WebSocket pings; a peer silent for as long again is dropped."""
    replay_page: Annotated[int, Field(ge=1)] = 500
    """Events read from the log at a time while replaying."""
    handshake_timeout: Annotated[float, Field(gt=0)] = 10.0
    """Seconds a new connection has to send its ``auth`` or ``publisher_auth``."""
    buffer_limit: Annotated[int, Field(ge=1)] = 1000
    """Live frames queued per device; beyond it the device catches up from the log."""
    max_in_flight: Annotated[int, Field(ge=1)] = 1000
    """Publishes per publisher connection being stored at once (pipelining window)."""
    server_name: str = f"seller-notifier/{__version__}"


class GatewayClosed(RuntimeError):
    """The gateway is closing or closed: nothing more is published."""


class Gateway:
    """Serve ``log`` on ``config.host:config.port``. Use ``async with`` or
    :meth:`start` / :meth:`close`. The gateway owns ``log`` and closes it."""

    def __init__(self, config: GatewayConfig, log: EventLog) -> None:
        self.config = config
        self._log = log
        self._server: Server | None = None
        self._port: int | None = None
        self._subscribers: dict[str, set[Delivery]] = {}
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. Raises ``OSError`` if the address cannot be bound."""
        if self._server is not None:
            raise RuntimeError("the gateway is already started")
        heartbeat = self.config.heartbeat
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            max_size=MAX_FRAME_BYTES,
            ping_interval=heartbeat,
            ping_timeout=heartbeat,
            compression=None,
            process_request=self._process_request,
            server_header=self.config.server_name,
            logger=_WithoutFrameDebug(logging.getLogger("seller_notifier.gateway.websockets")),
        )
        # Kept: the sockets are gone after close, but the URL stays meaningful in messages.
        self._port = int(self._server.sockets[0].getsockname()[1])
        _log.info("listening on %s", self.url)

    @property
    def port(self) -> int:
        """The bound port (the real one when configured with port 0)."""
        if self._port is None:
            raise RuntimeError("the gateway is not started")
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port`` for clients on this machine or network."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    async def close(self) -> None:
        """Stop accepting, tell every connection to come back shortly (an ``error``
        ``server_shutdown`` frame with ``retry_after``, then close 1001), wait for
        their handlers, and close the log. Idempotent."""
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._shutdown())
        await asyncio.shield(self._close_task)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _shutdown(self) -> None:
        self._closing = True
        server = self._server
        if server is not None:
            _log.info("shutting down, %d connection(s)", len(server.connections))
            notice = _shutdown_frame()
            await asyncio.gather(*(_send_quietly(ws, notice) for ws in server.connections))
            server.close(code=CloseCode.GOING_AWAY, reason=SHUTDOWN_REASON)
            await server.wait_closed()
        await self._log.close()
        _log.info("closed")

    # --- publishing -----------------------------------------------------------------

    async def publish(self, wallet: str, event: SellerEvent, key: str | None = None) -> Appended:
        """Append ``event`` to ``wallet``'s log and deliver it to connected devices.

        For in-process producers (the simulator, the demo). Raises
        ``InvalidWallet``, ``ValueError`` for an event type this version does not
        know, :class:`GatewayClosed`, or ``EventLogError``.
        """
        checksummed = normalize_wallet(wallet)
        if not is_known(event):
            raise ValueError(f"unknown event type {event.type!r}")
        if self._closing:
            raise GatewayClosed("the gateway is closed")
        return await self._append(checksummed, event, key)

    async def _append(self, wallet: str, event: SellerEvent, key: str | None) -> Appended:
        # No await before the log's append: appends keep the order of the calls.
        appended = await self._log.append(wallet, event, key)
        subscribers = self._subscribers.get(wallet)
        if subscribers and not appended.duplicate:
            text = encode_frame(
                EventFrame(
                    wallet=wallet, seq=appended.seq, id=appended.id, ts=appended.ts, event=event
                )
            )
            for delivery in subscribers:
                delivery.offer(appended.seq, text)
        return appended

    # --- connections ----------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] == "/healthz":
            if self._closing:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        peer = _peer(ws)
        try:
            if self._closing:
                await _send_quietly(ws, _shutdown_frame())
                await ws.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
                return
            await ws.send(
                encode_frame(
                    Hello(
                        server=self.config.server_name,
                        nonce=secrets.token_urlsafe(16),
                        heartbeat=self.config.heartbeat,
                    )
                )
            )
            first = await self._first_frame(ws, peer)
            if isinstance(first, Auth):
                await self._serve_device(ws, first, peer)
            elif isinstance(first, PublisherAuth):
                await self._serve_publisher(ws, first, peer)
        except ConnectionClosed:
            pass
        except Exception:
            _log.exception("connection failed peer=%s", peer)
            await ws.close(1011, "internal error")

    async def _first_frame(self, ws: ServerConnection, peer: str) -> Auth | PublisherAuth | None:
        """The authentication frame, or None after refusing the connection."""
        timeout = self.config.handshake_timeout
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await ws.recv()
                    try:
                        frame = decode_client_frame(raw)
                    except ProtocolError as exc:
                        await _refuse(ws, exc.code, exc.message, CloseCode.PROTOCOL, _ref_of(raw))
                        return None
                    if isinstance(frame, Auth | PublisherAuth):
                        return frame
                    if isinstance(frame, Ping):
                        await ws.send(encode_frame(Pong(ref=frame.ref)))
                        continue
                    await _refuse(
                        ws,
                        ErrorCode.AUTH_REQUIRED,
                        f"send auth or publisher_auth before {frame.type}",
                        CloseCode.PROTOCOL,
                    )
                    return None
        except TimeoutError:
            _log.info("no authentication within %ss peer=%s", timeout, peer)
            await _refuse(
                ws,
                ErrorCode.AUTH_REQUIRED,
                f"no auth frame within {timeout:g} seconds",
                CloseCode.POLICY,
            )
            return None

    # --- seller devices -------------------------------------------------------------

    async def _serve_device(self, ws: ServerConnection, auth: Auth, peer: str) -> None:
        try:
            claims = verify_token(self.config.secrets.token_secret, auth.token)
        except TokenRefused as exc:
            _log.info("device refused peer=%s reason=%r", peer, exc.reason)
            if exc.expired:
                code, close = ErrorCode.TOKEN_EXPIRED, CloseCode.TOKEN_EXPIRED
            else:
                code, close = ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED
            await _refuse(ws, code, exc.reason, close, auth.ref)
            return

        wallet = claims.wallet
        config = self.config
        delivery = Delivery(
            wallet, ws.send, self._log, page=config.replay_page, buffer_limit=config.buffer_limit
        )
        # Subscribed before the log's head is read: nothing published from now on
        # can fall between the replay and the live stream.
        self._subscribers.setdefault(wallet, set()).add(delivery)
        tasks: list[asyncio.Task[None]] = []
        try:
            retained_from, head = await self._log.bounds(wallet)
            await ws.send(
                encode_frame(
                    Ok(ref=auth.ref, wallet=wallet, head=head, retained_from=retained_from)
                )
            )
            _log.info(
                "device connected peer=%s wallet=%s token_id=%s since=%s head=%d",
                peer, wallet, claims.token_id, auth.since, head,
            )  # fmt: skip
            sending = asyncio.create_task(delivery.run(since=auth.since, head=head))
            reading = asyncio.create_task(self._read_device_frames(ws, delivery))
            tasks = [sending, reading]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if sending.done() and not sending.cancelled():
                failure = sending.exception()
                if isinstance(failure, EventLogError):
                    _log.error("replay failed wallet=%s: %s", wallet, failure)
                    await _refuse(
                        ws,
                        ErrorCode.UNAVAILABLE,
                        "the gateway cannot read its event log; retry later",
                        CloseCode.TRY_AGAIN_LATER,
                        retry_after=5.0,
                    )
                elif failure is not None and not isinstance(failure, ConnectionClosed):
                    raise failure
        finally:
            subscribers = self._subscribers.get(wallet)
            if subscribers is not None:
                subscribers.discard(delivery)
                if not subscribers:
                    del self._subscribers[wallet]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            _log.info(
                "device disconnected peer=%s wallet=%s last_sent=%d acked=%s code=%s",
                peer, wallet, delivery.last_sent, delivery.acked, ws.close_code,
            )  # fmt: skip

    async def _read_device_frames(self, ws: ServerConnection, delivery: Delivery) -> None:
        async for raw in ws:
            try:
                frame = decode_client_frame(raw)
            except ProtocolError as exc:
                await _send_error(ws, exc.code, exc.message, _ref_of(raw))
                continue
            if isinstance(frame, Ping):
                await ws.send(encode_frame(Pong(ref=frame.ref)))
            elif isinstance(frame, Ack):
                if frame.wallet != delivery.wallet:
                    await _send_error(
                        ws, ErrorCode.FORBIDDEN, "this connection is not for that wallet"
                    )
                else:
                    delivery.acknowledge(frame.seq)
            elif isinstance(frame, Auth):
                await _send_error(
                    ws,
                    ErrorCode.UNSUPPORTED,
                    "this gateway accepts one auth per connection (protocol v1)",
                    frame.ref,
                )
            else:
                await _send_error(
                    ws, ErrorCode.FORBIDDEN, "a device token cannot publish events", frame.ref
                )

    # --- publishers -----------------------------------------------------------------

    async def _serve_publisher(self, ws: ServerConnection, auth: PublisherAuth, peer: str) -> None:
        expected = self.config.secrets.publish_key.encode()
        if not hmac.compare_digest(auth.key.encode(), expected):
            _log.info("publisher refused peer=%s reason='wrong publish key'", peer)
            await _refuse(
                ws, ErrorCode.AUTH_FAILED, "publish key refused", CloseCode.AUTH_FAILED, auth.ref
            )
            return
        await ws.send(encode_frame(Ok(ref=auth.ref, role="publisher")))
        _log.info("publisher connected peer=%s", peer)
        window = asyncio.Semaphore(self.config.max_in_flight)
        in_flight: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            window.release()

        published = 0
        try:
            async for raw in ws:
                try:
                    frame = decode_client_frame(raw)
                except ProtocolError as exc:
                    await _send_error(ws, exc.code, exc.message, _ref_of(raw))
                    continue
                if isinstance(frame, Publish):
                    # Not reading further while the window is full pushes back on
                    # the publisher through TCP.
                    await window.acquire()
                    task = asyncio.create_task(self._answer_publish(ws, frame))
                    in_flight.add(task)
                    task.add_done_callback(finished)
                    published += 1
                elif isinstance(frame, Ping):
                    await ws.send(encode_frame(Pong(ref=frame.ref)))
                else:
                    ref = getattr(frame, "ref", None)
                    await _send_error(
                        ws,
                        ErrorCode.UNSUPPORTED,
                        f"a publisher connection does not accept {frame.type}",
                        ref,
                    )
        finally:
            # Events already handed to the log are stored and, if the connection
            # is still there, acknowledged.
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            _log.info("publisher disconnected peer=%s publishes=%d", peer, published)

    async def _answer_publish(self, ws: ServerConnection, frame: Publish) -> None:
        try:
            if not is_known(frame.event):
                known = ", ".join(KNOWN_EVENTS)
                await _send_error(
                    ws,
                    ErrorCode.UNKNOWN_EVENT_TYPE,
                    f"unknown event type {frame.event.type!r} (known: {known})",
                    frame.ref,
                )
                return
            if self._closing:
                await _send_error(
                    ws,
                    ErrorCode.SERVER_SHUTDOWN,
                    "the gateway is shutting down; publish again in a moment",
                    frame.ref,
                    retry_after=SHUTDOWN_RETRY_AFTER,
                )
                return
            try:
                appended = await self._append(frame.wallet, frame.event, frame.id)
            except EventLogError as exc:
                _log.error("publish failed wallet=%s: %s", frame.wallet, exc)
                await _send_error(
                    ws,
                    ErrorCode.UNAVAILABLE,
                    "the event could not be stored; publish it again later",
                    frame.ref,
                    retry_after=5.0,
                )
                return
            await ws.send(
                encode_frame(
                    Published(
                        ref=frame.ref,
                        wallet=appended.wallet,
                        seq=appended.seq,
                        id=appended.id,
                        duplicate=appended.duplicate,
                    )
                )
            )
        except ConnectionClosed:
            pass


# --- helpers for one connection -----------------------------------------------------


class _WithoutFrameDebug(logging.LoggerAdapter[logging.Logger]):
    """websockets logs the text of every frame at DEBUG, tokens and keys included:
    its debug output stays off even when the application's logging is at DEBUG."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def _peer(ws: ServerConnection) -> str:
    address: Any = ws.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _ref_of(raw: str | bytes) -> str | None:
    """The ``ref`` of a frame that failed to decode, so the error can name it."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    ref = value.get("ref") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= 64 else None


def _shutdown_frame() -> str:
    return encode_frame(
        ErrorFrame(
            code=ErrorCode.SERVER_SHUTDOWN,
            message="the gateway is shutting down; reconnect in a moment",
            retry_after=SHUTDOWN_RETRY_AFTER,
            fatal=True,
        )
    )


async def _send_error(
    ws: ServerConnection,
    code: ErrorCode,
    message: str,
    ref: str | None = None,
    *,
    retry_after: float | None = None,
) -> None:
    await ws.send(
        encode_frame(ErrorFrame(code=code, message=message, ref=ref, retry_after=retry_after))
    )


async def _refuse(
    ws: ServerConnection,
    code: ErrorCode,
    message: str,
    close_code: int,
    ref: str | None = None,
    *,
    retry_after: float | None = None,
) -> None:
    """A fatal error frame, then the close (whose reason repeats the message, cut to fit)."""
    frame = ErrorFrame(code=code, message=message, ref=ref, retry_after=retry_after, fatal=True)
    await _send_quietly(ws, encode_frame(frame))
    await ws.close(close_code, _close_reason(message))


def _close_reason(message: str) -> str:
    # A close reason is at most 123 bytes of UTF-8.
    encoded = message.encode()
    if len(encoded) <= 123:
        return message
    return encoded[:120].decode(errors="ignore") + "…"


async def _send_quietly(ws: ServerConnection, text: str, timeout: float = 1.0) -> None:
    """Best effort: a peer that is gone or not reading does not hold anything up."""
    try:
        async with asyncio.timeout(timeout):
            await ws.send(text)
    except (ConnectionClosed, TimeoutError):
        pass
