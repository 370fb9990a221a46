"""A bare protocol client for the gateway's tests: frames in, frames out, no session logic.

Also what several test folders share (tests/attacks and tests/redis put this
folder on ``sys.path``): throwaway wallets that sign Sign-In with Ethereum
messages, and an HTTP GET for ``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.client.siwe import sign_in_message
from app.gateway.server import Gateway
from app.protocol import (
    Auth,
    ErrorFrame,
    EventFrame,
    Hello,
    NewOrder,
    Ok,
    ServerFrame,
    decode_server_frame,
    encode_frame,
)

DEADLINE = 10.0
"""Seconds any single wait in these tests may take before the test fails."""

StartGateway = Callable[..., Awaitable[Gateway]]
"""``await start_gateway(retain=…, **config)``: a gateway started for one test."""


@dataclass(frozen=True)
class Wallet:
    """A throwaway Ethereum account made from a fixed private key (never a real one)."""

    key: str
    address: str

    @classmethod
    def numbered(cls, number: int) -> Wallet:
        key = "0x" + number.to_bytes(32, "big").hex()
        return cls(key=key, address=str(Account.from_key(key).address))

    def sign(self, text: str) -> str:
        """The EIP-191 ``personal_sign`` signature of ``text``, as a wallet pastes it."""
        signed = Account.sign_message(encode_defunct(text=text), private_key=self.key)
        digits = bytes(signed.signature).hex()
        return "0x" + digits

    def sign_in_text(self, url: str, nonce: str, *, issued_at: datetime | None = None) -> str:
        """The message this app builds for signing in to ``url`` with ``nonce``."""
        return sign_in_message(url, self.address, nonce, issued_at=issued_at or datetime.now(UTC))


async def http_get(
    port: int, path: str, *, tls: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str], str]:
    """``GET path`` on 127.0.0.1: (status, headers with lower-case names, body)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
    )
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass  # the server closed first; the response is complete
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body.decode()


def order(number: int, total: str = "10.00") -> NewOrder:
    return NewOrder(order_id=f"ORD-{number}", total=total, currency="USD")


class RawClient:
    """One WebSocket connection; ``hello`` is the gateway's first frame."""

    def __init__(self, ws: ClientConnection, hello: Hello) -> None:
        self.ws = ws
        self.hello = hello

    @classmethod
    async def open(cls, url: str, **options: Any) -> RawClient:
        """Connect and read ``hello``; ``options`` go to websockets' ``connect``."""
        ws = await connect(url, compression=None, open_timeout=DEADLINE, **options)
        hello = decode_server_frame(await asyncio.wait_for(ws.recv(), DEADLINE))
        assert isinstance(hello, Hello), hello
        return cls(ws, hello)

    async def send(self, frame: BaseModel | dict[str, Any] | str) -> None:
        if isinstance(frame, BaseModel):
            text = encode_frame(frame)
        elif isinstance(frame, dict):
            import json

            text = json.dumps(frame)
        else:
            text = frame
        await self.ws.send(text)

    async def recv(self) -> ServerFrame:
        return decode_server_frame(await asyncio.wait_for(self.ws.recv(), DEADLINE))

    async def events(self, count: int) -> list[EventFrame]:
        """The next ``count`` event frames; any other frame fails the test."""
        received: list[EventFrame] = []
        while len(received) < count:
            frame = await self.recv()
            assert isinstance(frame, EventFrame), frame
            received.append(frame)
        return received

    async def closed(self) -> tuple[int | None, str | None, list[ServerFrame]]:
        """Wait for the gateway to close; returns (code, reason, frames received before)."""
        frames: list[ServerFrame] = []
        try:
            while True:
                frames.append(await self.recv())
        except ConnectionClosed:
            pass
        await asyncio.wait_for(self.ws.wait_closed(), DEADLINE)
        return self.ws.close_code, self.ws.close_reason, frames

    async def close(self) -> None:
        await self.ws.close()


async def device(url: str, token: str, since: int | None = None) -> tuple[RawClient, Ok]:
    """A seller device connection that authenticated successfully."""
    client = await RawClient.open(url)
    await client.send(Auth(token=token, since=since))
    ok = await client.recv()
    assert isinstance(ok, Ok), ok
    return client, ok


async def refusal(client: RawClient) -> tuple[ErrorFrame, int | None]:
    """The fatal error frame and the close code that end a refused connection."""
    code, _reason, frames = await client.closed()
    errors = [f for f in frames if isinstance(f, ErrorFrame)]
    assert errors, frames
    assert errors[-1].fatal
    return errors[-1], code
