"""Publishing events to a gateway: what a marketplace backend (or ``publish``) uses.

``async with Publisher(url, key) as publisher: await publisher.publish(wallet, event)``
returns once the gateway has made the event durable. :meth:`Publisher.publish_many`
pipelines: it sends many events before the first answer arrives and matches the
answers by ``ref``, which is what makes bulk publishing fast. Events sent on one
connection are stored in the order they were sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Self

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from app.client.refusals import (
    InsecureConnection,
    explain_connect_error,
    explain_refusal,
    refuse_insecure,
)
from app.config.log_redaction import without_frame_debug
from app.protocol.codec import ProtocolError, decode_server_frame, describe_error, encode_frame
from app.protocol.events import SellerEvent
from app.protocol.frames import (
    MAX_FRAME_BYTES,
    PERMANENT_CLOSE_CODES,
    ErrorCode,
    ErrorFrame,
    Hello,
    Ok,
    Ping,
    Publish,
    Published,
    PublisherAuth,
    ServerFrame,
)

PublishItem = tuple[str, SellerEvent, str | None]
"""``(wallet, event, id)`` for :meth:`Publisher.publish_many`; ``id`` may be None."""

DEFAULT_WINDOW: Final = 500
KEEPALIVE: Final = 60.0
"""Seconds without a publish after which a ``ping`` frame is sent: the gateway closes
publisher connections that stay silent (5 minutes by default)."""
_log = logging.getLogger("seller_notifier.publisher")


class PublisherError(Exception):
    """Base of the publisher's errors; ``message`` is one line for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PublishRefused(PublisherError):
    """The gateway refused the publish key: retrying will not help."""


class PublisherUnavailable(PublisherError):
    """The gateway cannot be reached, or the connection was lost."""


class PublishRejected(PublisherError):
    """The gateway refused one event (``code`` is an ``ErrorCode`` value); the
    connection stays usable. ``unavailable`` means it was not stored: retry."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __repr__(self) -> str:
        return f"PublishRejected({self.code!r}, {self.message!r})"


class Publisher:
    """A publisher connection to the gateway at ``url`` (``ws://`` or ``wss://``).

    ``window``: how many events :meth:`publish_many` keeps unanswered at once.
    ``ssl``: the TLS context for ``wss://`` (default: the system's trusted
    certificates, or ``SSL_CERT_FILE``). ``allow_insecure``: accept ``ws://`` to
    another machine, which sends the publish key unencrypted. ``keepalive``:
    seconds of silence before a ``ping`` keeps the connection open (None: never).
    Entering raises :class:`PublisherUnavailable` or :class:`PublishRefused`.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        open_timeout: float = 10.0,
        window: int = DEFAULT_WINDOW,
        ssl: ssl.SSLContext | None = None,
        allow_insecure: bool = False,
        keepalive: float | None = KEEPALIVE,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        if keepalive is not None and keepalive <= 0:
            raise ValueError("keepalive must be positive")
        self.url = url
        self._key = key
        self._open_timeout = open_timeout
        self._window = window
        self._ssl = ssl
        self._allow_insecure = allow_insecure
        self._keepalive = keepalive
        self._last_sent = 0.0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[Published | ErrorFrame]] = {}
        self._refs = itertools.count(1)
        self._lost: str | None = None

    @property
    def is_connected(self) -> bool:
        """False once the connection is lost or closed."""
        return self._reader is not None and not self._reader.done()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and authenticate with the publish key."""
        url = self.url
        try:
            refuse_insecure(url, allow_insecure=self._allow_insecure)
        except InsecureConnection as exc:
            raise PublisherUnavailable(str(exc)) from None
        # websockets wants no ssl argument at all for a default context (or for ws://).
        tls: dict[str, Any] = {} if self._ssl is None else {"ssl": self._ssl}
        try:
            ws = await connect(
                url,
                **tls,
                open_timeout=self._open_timeout,
                max_size=MAX_FRAME_BYTES,
                compression=None,
                logger=without_frame_debug("seller_notifier.publisher.websockets"),
            )
        except InvalidURI as exc:
            raise PublisherUnavailable(f"{url} is not a gateway URL: {exc}") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise PublisherUnavailable(
                f"cannot reach the gateway at {url}: {_reason(exc)}"
            ) from None
        try:
            async with asyncio.timeout(self._open_timeout):
                hello = decode_server_frame(await ws.recv())
                if isinstance(hello, ErrorFrame):
                    answer: ServerFrame = hello  # refused at once, e.g. too many connections
                elif not isinstance(hello, Hello):
                    raise ProtocolError(ErrorCode.BAD_FRAME, f"expected hello, got {hello.type}")
                else:
                    await ws.send(encode_frame(PublisherAuth(key=self._key)))
                    answer = decode_server_frame(await ws.recv())
        except ConnectionClosed as exc:
            await ws.close()
            if exc.rcvd is not None and exc.rcvd.code in PERMANENT_CLOSE_CODES:
                raise PublishRefused(exc.rcvd.reason or "publish key refused") from None
            raise PublisherUnavailable(f"the gateway at {url} closed the connection") from None
        except TimeoutError:
            await ws.close()
            raise PublisherUnavailable(f"the gateway at {url} did not answer in time") from None
        except ProtocolError as exc:
            await ws.close()
            raise PublisherUnavailable(
                f"{url} does not speak the seller-notifier protocol: {exc.message}"
            ) from None
        if isinstance(answer, ErrorFrame):
            await ws.close()
            if answer.code == ErrorCode.AUTH_FAILED:
                raise PublishRefused(answer.message)
            told = explain_refusal(None, answer.code) or answer.message
            raise PublisherUnavailable(f"the gateway at {url} refused the connection: {told}")
        if not isinstance(answer, Ok) or answer.role != "publisher":
            await ws.close()
            raise PublisherUnavailable(f"unexpected answer from {url}: {answer.type}")
        self._ws = ws
        self._reader = asyncio.create_task(self._read(ws), name="publisher-reader")
        self._last_sent = asyncio.get_running_loop().time()
        if self._keepalive is not None:
            self._pinger = asyncio.create_task(
                self._ping_when_idle(ws, self._keepalive), name="publisher-keepalive"
            )

    async def wait_closed(self) -> None:
        """Return once the connection is lost or closed (at once if never connected)."""
        if self._reader is not None:
            # asyncio.wait: cancelling this wait leaves the reader running.
            await asyncio.wait([self._reader])

    async def close(self) -> None:
        """Close the connection (events not yet acknowledged may or may not be stored)."""
        if self._pinger is not None:
            self._pinger.cancel()
            await asyncio.gather(self._pinger, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def publish(self, wallet: str, event: SellerEvent, id: str | None = None) -> Published:
        """Store one event for ``wallet``; ``id`` makes it idempotent (a repeat returns
        the original with ``duplicate=True``).

        Raises :class:`PublishRejected` (also for an invalid wallet or event) or
        :class:`PublisherUnavailable`.
        """
        [result] = await self.publish_many([(wallet, event, id)])
        if isinstance(result, PublishRejected):
            if result.code == ErrorCode.UNAVAILABLE and not self.is_connected:
                raise PublisherUnavailable(result.message)
            raise result
        return result

    async def publish_many(self, items: Iterable[PublishItem]) -> list[Published | PublishRejected]:
        """Publish ``items`` in order, pipelined; one result per item, in item order.

        An item that could not be sent or was not acknowledged before the
        connection was lost gets ``PublishRejected("unavailable", …)``; check
        :attr:`is_connected` to tell that from a refusal of the event itself.
        """
        window = asyncio.Semaphore(self._window)
        pending: list[asyncio.Future[Published | ErrorFrame] | PublishRejected] = []
        for wallet, event, event_id in items:
            ref = str(next(self._refs))
            try:
                text = encode_frame(Publish(wallet=wallet, event=event, id=event_id, ref=ref))
            except ValidationError as exc:
                pending.append(PublishRejected(ErrorCode.INVALID_EVENT, describe_error(exc)))
                continue
            size = len(text.encode())
            if size > MAX_FRAME_BYTES:
                # Sent anyway, the gateway would close the whole connection (1009).
                pending.append(
                    PublishRejected(
                        ErrorCode.FRAME_TOO_LARGE,
                        f"the event takes {size} bytes; the gateway accepts {MAX_FRAME_BYTES}",
                    )
                )
                continue
            await window.acquire()
            if not self.is_connected or self._ws is None:
                window.release()
                pending.append(self._unacknowledged())
                continue
            future: asyncio.Future[Published | ErrorFrame] = (
                asyncio.get_running_loop().create_future()
            )
            future.add_done_callback(lambda _: window.release())
            self._waiting[ref] = future
            pending.append(future)
            self._last_sent = asyncio.get_running_loop().time()
            try:
                await self._ws.send(text)
            except ConnectionClosed:
                # The reader sees the same close and answers every waiting future.
                pass
        return [await self._outcome(item) for item in pending]

    async def _outcome(
        self, item: asyncio.Future[Published | ErrorFrame] | PublishRejected
    ) -> Published | PublishRejected:
        if isinstance(item, PublishRejected):
            return item
        answer = await item
        if isinstance(answer, ErrorFrame):
            return PublishRejected(answer.code, answer.message)
        return answer

    def _unacknowledged(self) -> PublishRejected:
        reason = f" ({self._lost})" if self._lost else ""
        return PublishRejected(
            ErrorCode.UNAVAILABLE,
            f"the connection to {self.url} was lost before the event was acknowledged{reason}",
        )

    async def _ping_when_idle(self, ws: ClientConnection, keepalive: float) -> None:
        loop = asyncio.get_running_loop()
        ping = encode_frame(Ping())
        try:
            while True:
                await asyncio.sleep(max(0.0, self._last_sent + keepalive - loop.time()))
                if loop.time() - self._last_sent >= keepalive:
                    self._last_sent = loop.time()
                    await ws.send(ping)
        except ConnectionClosed:
            pass  # the reader reports the loss

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    frame = decode_server_frame(raw)
                except ProtocolError as exc:
                    _log.warning("ignored a frame from the gateway: %s", exc.message)
                    continue
                if isinstance(frame, Published | ErrorFrame) and frame.ref in self._waiting:
                    future = self._waiting.pop(frame.ref)
                    if not future.done():
                        future.set_result(frame)
                elif isinstance(frame, ErrorFrame):
                    # Not about one event: e.g. server_shutdown before the close.
                    self._lost = frame.message
        except ConnectionClosed as exc:
            if self._lost is None and exc.rcvd is not None and exc.rcvd.reason:
                self._lost = exc.rcvd.reason
        finally:
            # Answered rather than failed: nobody may be left to retrieve an exception.
            lost = ErrorFrame(code=ErrorCode.UNAVAILABLE, message=self._unacknowledged().message)
            waiting, self._waiting = self._waiting, {}
            for future in waiting.values():
                if not future.done():
                    future.set_result(lost)


def _reason(exc: BaseException) -> str:
    if (told := explain_connect_error(exc)) is not None:
        return told
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the gateway running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
