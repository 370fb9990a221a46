"""The gateway: a websockets server that authenticates devices and publishers,
replays each wallet's log and fans live events out.

One connection, one role. A seller device sends ``auth`` with its token — or
``siwe_auth``, a wallet-signed EIP-4361 message, which earns it a token — and
gets only its own wallet's events; a publisher sends ``publisher_auth`` with
the publish key and may then ``publish`` to any wallet.

Every refusal is an ``error`` frame with a specific code, then a close whose
code tells the client what to do (see ``docs/protocol.md``): a bad or expired
token (4001/4002), a signed-out device (4003), too many connections from one
computer or for one wallet, or too many frames per second (1008, with a retry
hint). Browsers are refused unless their ``Origin`` is allowed; TLS is served
with ``tls_cert``/``tls_key``. ``GET /healthz`` answers 200 while the event log
is usable (503 otherwise) and ``GET /metrics`` is Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Origin

from app import __version__
from app.config.log_redaction import without_frame_debug
from app.config.secrets import GatewaySecrets
from app.gateway.backend import GatewayBackend, Revocation
from app.gateway.delivery import Delivery
from app.gateway.limits import ConnectionCaps, TokenBucket, client_address
from app.gateway.log import Appended, EventLogError
from app.gateway.messages import MessageInbox
from app.gateway.metrics import CONTENT_TYPE, GatewayMetrics
from app.gateway.siwe import SignInRefused, WalletSignIn
from app.gateway.tokens import TokenClaims, TokenRefused, issue_token, verify_token
from app.protocol.codec import ProtocolError, decode_client_frame, encode_frame
from app.protocol.events import KNOWN_EVENTS, SellerEvent, is_known
from app.protocol.frames import (
    MAX_FRAME_BYTES,
    Ack,
    AppMessage,
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
    Received,
    SiweAuth,
)
from app.protocol.wallet import normalize_wallet

_log = logging.getLogger("seller_notifier.gateway")

SHUTDOWN_RETRY_AFTER: Final = 1.0
SHUTDOWN_REASON: Final = "server shutdown; retry after 1s"
UNAVAILABLE_RETRY_AFTER: Final = 5.0
SIGNED_OUT: Final = "this device was signed out; sign in again"
_WRITE_HIGH_WATER: Final = 2**15
"""Bytes queued in a socket above which live frames wait in the delivery's buffer
(websockets' own write limit, so the fast path never outruns its flow control)."""


class GatewayConfig(BaseModel):
    """How a :class:`Gateway` listens, paces and limits its connections."""

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
    """Seconds a new connection has to open (TLS and HTTP) and again to authenticate."""
    idle_timeout: Annotated[float, Field(gt=0)] = 300.0
    """Seconds a publisher connection may stay silent before it is closed; devices
    are kept (and dropped when dead) by the heartbeat instead."""
    buffer_limit: Annotated[int, Field(ge=1)] = 1000
    """Live frames queued per device; beyond it the device catches up from the log."""
    max_in_flight: Annotated[int, Field(ge=1)] = 1000
    """Publishes per publisher connection being stored at once (pipelining window)."""
    frame_rate: Annotated[float, Field(gt=0)] = 20.0
    """Frames per second a device (or a connection not yet authenticated) may send
    on average; beyond the burst the connection is closed with 1008."""
    frame_burst: Annotated[int, Field(ge=1)] = 100
    max_connections_per_ip: Annotated[int, Field(ge=1)] = 100
    max_connections_per_wallet: Annotated[int, Field(ge=1)] = 10
    throttle_retry_after: Annotated[float, Field(gt=0)] = 10.0
    """Seconds a throttled client is asked to wait before it comes back."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses of load balancers whose ``X-Forwarded-For`` names the real client."""
    allowed_origins: tuple[str, ...] = ()
    """``Origin`` values of browser pages allowed to connect; clients that send no
    ``Origin`` (the app, backends) are always allowed."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    """PEM files: with both, the gateway serves ``wss://``."""
    siwe_domains: tuple[str, ...] = ()
    """Domains a wallet sign-in message may name (the gateway's public authority,
    e.g. ``notify.example.com``). Empty: ``host:port`` as bound (and
    ``localhost:port`` on loopback); a gateway bound to all interfaces then has
    no wallet sign-in until this is set."""
    siwe_token_ttl: timedelta = timedelta(days=30)
    """Lifetime of the device token a wallet sign-in earns."""
    health_timeout: Annotated[float, Field(gt=0)] = 2.0
    server_name: str = f"seller-notifier/{__version__}"

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self


class GatewayClosed(RuntimeError):
    """The gateway is closing or closed: nothing more is published."""


class TlsUnusable(RuntimeError):
    """The TLS certificate or key cannot be loaded; the message says which and why."""


@dataclass(eq=False, slots=True)
class _Device:
    """A signed-in seller connection, as revocations see it."""

    ws: ServerConnection
    claims: TokenClaims
    delivery: Delivery
    signed_out: bool = field(default=False)


class Gateway:
    """Serve ``log`` on ``config.host:config.port``. Use ``async with`` or
    :meth:`start` / :meth:`close`. The gateway owns ``log`` and closes it."""

    def __init__(self, config: GatewayConfig, log: GatewayBackend) -> None:
        self.config = config
        self._log = log
        self._server: Server | None = None
        self._port: int | None = None
        self._subscribers: dict[str, set[Delivery]] = {}
        self._heads: dict[str, int] = {}
        self._devices: dict[str, set[_Device]] = {}
        self._ip_caps = ConnectionCaps(config.max_connections_per_ip)
        self._wallet_caps = ConnectionCaps(config.max_connections_per_wallet)
        self._sign_in: WalletSignIn | None = None
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._messages = MessageInbox()
        self._chores: set[asyncio.Task[Any]] = set()
        self._delivered_by_closed = 0
        self._publishers = 0
        self.metrics = GatewayMetrics(self._delivered, self._connection_counts)

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. Raises ``OSError`` if the address cannot be bound,
        :class:`TlsUnusable` for unusable TLS files and
        :class:`~app.gateway.log.EventLogError` if the backend cannot be followed."""
        if self._server is not None:
            raise RuntimeError("the gateway is already started")
        config = self.config
        tls = _tls_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        heartbeat = config.heartbeat
        self._server = await serve(
            self._handle,
            config.host,
            config.port,
            ssl=tls,
            # None: clients that send no Origin (the app, backends, scripts) are fine.
            origins=[None, *(Origin(origin) for origin in config.allowed_origins)],
            open_timeout=config.handshake_timeout,
            max_size=MAX_FRAME_BYTES,
            ping_interval=heartbeat,
            ping_timeout=heartbeat,
            compression=None,
            process_request=self._process_request,
            server_header=config.server_name,
            logger=without_frame_debug("seller_notifier.gateway.websockets"),
        )
        # Kept: the sockets are gone after close, but the URL stays meaningful in messages.
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._sign_in = WalletSignIn(config.secrets.token_secret, self._siwe_domains())
        try:
            await self._log.follow(self)
        except BaseException:
            self._server.close()
            await self._server.wait_closed()
            raise
        _log.info("listening on %s", self.url)

    @property
    def port(self) -> int:
        """The bound port (the real one when configured with port 0)."""
        if self._port is None:
            raise RuntimeError("the gateway is not started")
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port`` (``wss://`` with TLS) for clients on this machine or network."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        scheme = "wss" if self.config.tls_cert is not None else "ws"
        return f"{scheme}://{host}:{self.port}"

    @property
    def sign_in_domains(self) -> frozenset[str]:
        """The domains a wallet sign-in message may name here."""
        if self._sign_in is None:
            raise RuntimeError("the gateway is not started")
        return self._sign_in.domains

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
        for chore in list(self._chores):
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        await self._log.close()
        _log.info("closed")

    def _siwe_domains(self) -> tuple[str, ...]:
        if self.config.siwe_domains:
            return self.config.siwe_domains
        host = self.config.host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return (f"{host}:{self.port}",)  # a host name
        if address.is_unspecified:
            _log.warning(
                "wallet sign-in is off: bound to all interfaces, so the public domain "
                "is unknown (set it with --siwe-domain)"
            )
            return ()
        bound = f"[{host}]:{self.port}" if address.version == 6 else f"{host}:{self.port}"
        return (bound, f"localhost:{self.port}") if address.is_loopback else (bound,)

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
            raise GatewayClosed("the gateway is closing")
        return await self._append(checksummed, event, key)

    async def revoke(self, revocation: Revocation) -> None:
        """Store ``revocation`` (every gateway on the backend learns of it) and sign
        out the devices it covers. Raises ``EventLogError``."""
        await self._log.revoke(revocation)
        self.revoked(revocation)

    async def _append(self, wallet: str, event: SellerEvent, key: str | None) -> Appended:
        metrics = self.metrics
        started = time.perf_counter()
        # No await before the log's append: appends keep the order of the calls.
        try:
            appended = await self._log.append(wallet, event, key)
        except EventLogError:
            metrics.published.labels("failed").inc()
            raise
        metrics.publish_seconds.observe(time.perf_counter() - started)
        metrics.published.labels("duplicate" if appended.duplicate else "stored").inc()
        if not appended.duplicate and wallet in self._subscribers:
            # model_construct: every field is already valid, and validating the wallet
            # again would recompute its EIP-55 checksum (a keccak hash) per event.
            frame = EventFrame.model_construct(
                wallet=wallet, seq=appended.seq, id=appended.id, ts=appended.ts, event=event
            )
            self._offer(wallet, appended.seq, encode_frame(frame).encode())
        return appended

    def _offer(self, wallet: str, seq: int, data: bytes) -> None:
        subscribers = self._subscribers.get(wallet)
        if not subscribers:
            return
        if seq > self._heads.get(wallet, 0):
            self._heads[wallet] = seq
        for delivery in subscribers:
            delivery.offer(seq, data)

    # --- what other processes did (backend.Follower) -------------------------------

    def wants(self, wallet: str, seq: int) -> bool:
        return wallet in self._subscribers and seq > self._heads.get(wallet, 0)

    def appended(self, frame: EventFrame) -> None:
        self._offer(frame.wallet, frame.seq, encode_frame(frame).encode())

    def lost_track(self) -> None:
        self._spawn(self._catch_up_all())

    def revoked(self, revocation: Revocation) -> None:
        if revocation.wallet is not None:
            candidates: Iterable[_Device] = list(self._devices.get(revocation.wallet, ()))
        else:
            candidates = [device for devices in self._devices.values() for device in devices]
        for device in candidates:
            if device.signed_out or not revocation.covers(device.claims):
                continue
            device.signed_out = True
            self.metrics.revoked.inc()
            _log.info(
                "device signed out wallet=%s token_id=%s (%s)",
                device.claims.wallet, device.claims.token_id, revocation.describe(),
            )  # fmt: skip
            self._spawn(
                _refuse(device.ws, ErrorCode.TOKEN_REVOKED, SIGNED_OUT, CloseCode.FORBIDDEN)
            )

    async def _catch_up_all(self) -> None:
        for wallet in list(self._subscribers):
            try:
                _retained_from, head = await self._log.bounds(wallet)
            except EventLogError as exc:
                _log.warning("cannot catch up wallet=%s: %s", wallet, exc)
                continue
            for delivery in list(self._subscribers.get(wallet, ())):
                delivery.catch_up(head)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # --- HTTP: health and metrics ---------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            if self._closing:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
            problem = await self._backend_problem()
            if problem is not None:
                return connection.respond(
                    HTTPStatus.SERVICE_UNAVAILABLE, f"event log unavailable: {problem}\n"
                )
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path == "/metrics":
            await self._backend_problem()
            response = connection.respond(HTTPStatus.OK, self.metrics.render().decode())
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = CONTENT_TYPE
            return response
        return None

    async def _backend_problem(self) -> str | None:
        """Why the backend is unusable now, or None; also sets the ``backend_up`` gauge."""
        try:
            async with asyncio.timeout(self.config.health_timeout):
                await self._log.check()
        except TimeoutError:
            problem: str | None = f"no answer within {self.config.health_timeout:g} s"
        except EventLogError as exc:
            problem = str(exc)
        else:
            problem = None
        self.metrics.backend_up.set(0 if problem else 1)
        return problem

    def _connection_counts(self) -> dict[str, int]:
        sellers = sum(len(devices) for devices in self._devices.values())
        total = len(self._server.connections) if self._server is not None else 0
        pending = max(0, total - sellers - self._publishers)
        return {"pending": pending, "seller": sellers, "publisher": self._publishers}

    def _delivered(self) -> int:
        live = sum(d.sent for deliveries in self._subscribers.values() for d in deliveries)
        return self._delivered_by_closed + live

    # --- connections ----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        config = self.config
        address = _client_address(ws, config.trusted_proxies)
        peer = _peer(ws, address)
        if self._closing:
            await _send_quietly(ws, _shutdown_frame())
            await ws.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
            return
        if not self._ip_caps.admit(address):
            self.metrics.throttled.labels("ip_cap").inc()
            _log.info("refused peer=%s: %d connections from it", peer, self._ip_caps.cap)
            await self._throttle(ws, ErrorCode.TOO_MANY_CONNECTIONS, "too many connections "
                                 "from this computer")  # fmt: skip
            return
        try:
            assert self._sign_in is not None
            await ws.send(
                encode_frame(
                    Hello(
                        server=config.server_name,
                        nonce=self._sign_in.nonce(),
                        heartbeat=config.heartbeat,
                    )
                )
            )
            bucket = TokenBucket(config.frame_rate, config.frame_burst, _now())
            # Passed on without a name here: the device's handler drops the frame
            # (and the token in it) once used, for the connection's whole life.
            await self._serve(ws, peer, bucket, await self._first_frame(ws, peer, bucket))
        except ConnectionClosed:
            pass
        except Exception:
            _log.exception("connection failed peer=%s", peer)
            await ws.close(1011, "internal error")
        finally:
            self._ip_caps.release(address)

    async def _serve(
        self,
        ws: ServerConnection,
        peer: str,
        bucket: TokenBucket,
        first: Auth | SiweAuth | PublisherAuth | None,
    ) -> None:
        if isinstance(first, PublisherAuth):
            await self._serve_publisher(ws, first, peer)
        elif first is not None:
            await self._serve_device(ws, first, peer, bucket)

    async def _first_frame(
        self, ws: ServerConnection, peer: str, bucket: TokenBucket
    ) -> Auth | SiweAuth | PublisherAuth | None:
        """The authentication frame, or None after refusing the connection."""
        timeout = self.config.handshake_timeout
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await ws.recv()
                    if not bucket.take(_now()):
                        await self._rate_limited(ws, peer)
                        return None
                    try:
                        frame = decode_client_frame(raw)
                    except ProtocolError as exc:
                        await _refuse(ws, exc.code, exc.message, CloseCode.PROTOCOL, _ref_of(raw))
                        return None
                    if isinstance(frame, Auth | SiweAuth | PublisherAuth):
                        return frame
                    if isinstance(frame, Ping):
                        await ws.send(encode_frame(Pong(ref=frame.ref)))
                        continue
                    self.metrics.refused.labels("no_auth").inc()
                    await _refuse(
                        ws,
                        ErrorCode.AUTH_REQUIRED,
                        f"send auth or publisher_auth before {frame.type}",
                        CloseCode.PROTOCOL,
                    )
                    return None
        except TimeoutError:
            _log.info("no authentication within %ss peer=%s", timeout, peer)
            self.metrics.refused.labels("no_auth").inc()
            await _refuse(
                ws,
                ErrorCode.AUTH_REQUIRED,
                f"no auth frame within {timeout:g} seconds",
                CloseCode.POLICY,
            )
            return None

    async def _throttle(self, ws: ServerConnection, code: ErrorCode, what: str) -> None:
        retry = self.config.throttle_retry_after
        await _refuse(
            ws, code, f"{what}; retry after {retry:g}s", CloseCode.POLICY, retry_after=retry
        )

    async def _rate_limited(self, ws: ServerConnection, peer: str) -> None:
        self.metrics.throttled.labels("rate_limited").inc()
        _log.info("rate limited peer=%s (over %g frames/s)", peer, self.config.frame_rate)
        await self._throttle(ws, ErrorCode.RATE_LIMITED, "too many messages too fast")

    # --- seller devices -------------------------------------------------------------

    async def _authenticate(
        self, ws: ServerConnection, auth: Auth | SiweAuth, peer: str
    ) -> tuple[TokenClaims, str | None] | None:
        """The device's verified claims (and its new token after a wallet sign-in),
        or None after refusing the connection."""
        secret = self.config.secrets.token_secret
        refused = self.metrics.refused
        new_token: str | None = None
        try:
            if isinstance(auth, SiweAuth):
                assert self._sign_in is not None
                message = await self._sign_in.verify(
                    auth.message, auth.signature, self._log.use_nonce
                )
                new_token = issue_token(secret, message.address, self.config.siwe_token_ttl)
                claims = verify_token(secret, new_token)
                self.metrics.sign_ins.inc()
                _log.info(
                    "wallet signed in peer=%s wallet=%s token_id=%s",
                    peer, claims.wallet, claims.token_id,
                )  # fmt: skip
            else:
                claims = verify_token(secret, auth.token)
            revocation = await self._log.find_revocation(claims)
        except TokenRefused as exc:
            _log.info("device refused peer=%s reason=%r", peer, exc.reason)
            if exc.expired:
                refused.labels("token_expired").inc()
                code, close = ErrorCode.TOKEN_EXPIRED, CloseCode.TOKEN_EXPIRED
            else:
                refused.labels("bad_token").inc()
                code, close = ErrorCode.AUTH_FAILED, CloseCode.AUTH_FAILED
            await _refuse(ws, code, exc.reason, close, auth.ref)
            return None
        except SignInRefused as exc:
            _log.info("wallet sign-in refused peer=%s reason=%r", peer, exc.reason)
            refused.labels("sign_in_refused").inc()
            await _refuse(ws, ErrorCode.AUTH_FAILED, exc.reason, CloseCode.AUTH_FAILED, auth.ref)
            return None
        except EventLogError as exc:
            _log.error("cannot check sign-in state peer=%s: %s", peer, exc)
            await _unavailable(ws, auth.ref)
            return None
        if revocation is not None:
            _log.info(
                "device refused peer=%s wallet=%s token_id=%s reason='signed out'",
                peer, claims.wallet, claims.token_id,
            )  # fmt: skip
            refused.labels("token_revoked").inc()
            await _refuse(ws, ErrorCode.TOKEN_REVOKED, SIGNED_OUT, CloseCode.FORBIDDEN, auth.ref)
            return None
        return claims, new_token

    async def _serve_device(
        self, ws: ServerConnection, auth: Auth | SiweAuth, peer: str, bucket: TokenBucket
    ) -> None:
        verified = await self._authenticate(ws, auth, peer)
        if verified is None:
            return
        claims, new_token = verified
        wallet = claims.wallet
        if not self._wallet_caps.admit(wallet):
            self.metrics.throttled.labels("wallet_cap").inc()
            _log.info("refused peer=%s wallet=%s: %d devices connected", peer, wallet,
                      self._wallet_caps.cap)  # fmt: skip
            await self._throttle(ws, ErrorCode.TOO_MANY_DEVICES, "too many devices are "
                                 "connected for this wallet")  # fmt: skip
            return
        config = self.config
        delivery = Delivery(
            wallet,
            _WebSocketLink(ws),
            self._log,
            page=config.replay_page,
            buffer_limit=config.buffer_limit,
            on_error=functools.partial(self._delivery_failed, ws, wallet),
        )
        device = _Device(ws, claims, delivery)
        # Subscribed before the log's head is read: nothing published from now on
        # can fall between the replay and the live stream.
        self._subscribers.setdefault(wallet, set()).add(delivery)
        self._devices.setdefault(wallet, set()).add(device)
        try:
            try:
                retained_from, head = await self._log.bounds(wallet)
            except EventLogError as exc:
                _log.error("cannot read the log wallet=%s: %s", wallet, exc)
                await _unavailable(ws, auth.ref)
                return
            ok = Ok(
                ref=auth.ref, wallet=wallet, head=head, retained_from=retained_from,
                token=new_token,
            )  # fmt: skip
            await ws.send(encode_frame(ok))
            _log.info(
                "device connected peer=%s wallet=%s token_id=%s since=%s head=%d",
                peer, wallet, claims.token_id, auth.since, head,
            )  # fmt: skip
            delivery.start(since=auth.since, head=head)
            del auth, verified, ok, new_token  # tokens are not kept for the connection
            await self._read_device_frames(ws, delivery, bucket, peer)
        finally:
            self._unsubscribe(device)
            await delivery.close()
            self._delivered_by_closed += delivery.sent
            if delivery.replayed is not None:
                self.metrics.replayed.observe(delivery.replayed)
            _log.info(
                "device disconnected peer=%s wallet=%s last_sent=%d acked=%s code=%s",
                peer, wallet, delivery.last_sent, delivery.acked, ws.close_code,
            )  # fmt: skip

    def _unsubscribe(self, device: _Device) -> None:
        wallet = device.claims.wallet
        subscribers = self._subscribers.get(wallet)
        if subscribers is not None:
            subscribers.discard(device.delivery)
            if not subscribers:
                del self._subscribers[wallet]
                self._heads.pop(wallet, None)
        devices = self._devices.get(wallet)
        if devices is not None:
            devices.discard(device)
            if not devices:
                del self._devices[wallet]
        self._wallet_caps.release(wallet)

    def _delivery_failed(self, ws: ServerConnection, wallet: str, failure: BaseException) -> None:
        """A delivery could not send: end the connection with a reason."""
        if isinstance(failure, ConnectionClosed):
            return  # the reading side ends the handler
        if isinstance(failure, EventLogError):
            _log.error("replay failed wallet=%s: %s", wallet, failure)
            self._spawn(_unavailable(ws))
        else:
            _log.error("delivery failed wallet=%s", wallet, exc_info=failure)
            self._spawn(ws.close(1011, "internal error"))

    async def _read_device_frames(
        self, ws: ServerConnection, delivery: Delivery, bucket: TokenBucket, peer: str
    ) -> None:
        async for raw in ws:
            if not bucket.take(_now()):
                await self._rate_limited(ws, peer)
                return
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
            elif isinstance(frame, AppMessage):
                fresh = self._messages.accept(delivery.wallet, frame)
                await ws.send(
                    encode_frame(Received(id=frame.id, ref=frame.ref, duplicate=not fresh))
                )
            elif isinstance(frame, Auth | SiweAuth):
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
            self.metrics.refused.labels("publish_key").inc()
            await _refuse(
                ws, ErrorCode.AUTH_FAILED, "publish key refused", CloseCode.AUTH_FAILED, auth.ref
            )
            return
        await ws.send(encode_frame(Ok(ref=auth.ref, role="publisher")))
        _log.info("publisher connected peer=%s", peer)
        self._publishers += 1
        window = asyncio.Semaphore(self.config.max_in_flight)
        in_flight: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            window.release()

        published = 0
        idle = self.config.idle_timeout
        try:
            async with asyncio.timeout(idle) as deadline:
                async for raw in ws:
                    deadline.reschedule(asyncio.get_running_loop().time() + idle)
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
        except TimeoutError:
            _log.info("publisher idle for %gs peer=%s: closing", idle, peer)
            await ws.close(CloseCode.NORMAL, f"idle for {idle:g} seconds")
        finally:
            # Events already handed to the log are stored and, if the connection
            # is still there, acknowledged.
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            self._publishers -= 1
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
                    retry_after=UNAVAILABLE_RETRY_AFTER,
                )
                return
            published = Published.model_construct(  # valid already, see _append
                ref=frame.ref,
                wallet=appended.wallet,
                seq=appended.seq,
                id=appended.id,
                duplicate=appended.duplicate,
            )
            await ws.send(encode_frame(published))
        except ConnectionClosed:
            pass


# --- helpers for one connection -----------------------------------------------------


class _WebSocketLink:
    """A :class:`~app.gateway.delivery.Link` over one server connection."""

    __slots__ = ("_ws",)

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        await self._ws.send(data, text=True)

    def send_now(self, data: bytes) -> bool:
        ws = self._ws
        if ws.state is not State.OPEN or ws.transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            return False
        try:
            broadcast((ws,), data, raise_exceptions=True, text=True)
        except Exception:  # noqa: BLE001 - broadcast groups any write failure
            return False  # the delivery task retries, and sees the connection closed
        return True


def _tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        # ssl.SSLError is an OSError; both say little without the file names.
        why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise TlsUnusable(f"cannot use the TLS certificate {cert} and key {key}: {why}") from None
    return context


def _now() -> float:
    return time.monotonic()


def _client_address(ws: ServerConnection, trusted_proxies: tuple[str, ...]) -> str:
    address: Any = ws.remote_address
    peer = str(address[0]) if isinstance(address, tuple) and address else None
    request = ws.request
    forwarded = request.headers.get("X-Forwarded-For") if request is not None else None
    return client_address(peer, forwarded, trusted_proxies)


def _peer(ws: ServerConnection, address: str) -> str:
    remote: Any = ws.remote_address
    if isinstance(remote, tuple) and len(remote) >= 2 and str(remote[0]) == address:
        return f"{remote[0]}:{remote[1]}"
    return address  # through a proxy: the proxy's port says nothing


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


async def _unavailable(ws: ServerConnection, ref: str | None = None) -> None:
    await _refuse(
        ws,
        ErrorCode.UNAVAILABLE,
        f"the gateway cannot reach its event log; retry after {UNAVAILABLE_RETRY_AFTER:g}s",
        CloseCode.TRY_AGAIN_LATER,
        ref,
        retry_after=UNAVAILABLE_RETRY_AFTER,
    )


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
