"""A bare protocol client for the gateway's tests: frames in, frames out, no session logic."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

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


def order(number: int, total: str = "10.00") -> NewOrder:
    return NewOrder(order_id=f"ORD-{number}", total=total, currency="USD")


class RawClient:
    """One WebSocket connection; ``hello`` is the gateway's first frame."""

    def __init__(self, ws: ClientConnection, hello: Hello) -> None:
        self.ws = ws
        self.hello = hello

    @classmethod
    async def open(cls, url: str) -> RawClient:
        ws = await connect(url, compression=None, open_timeout=DEADLINE)
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
