"""Scripted gateways for the client tests: odd behaviour, played by websockets itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.protocol import decode_client_frame
from app.protocol.frames import Auth

if TYPE_CHECKING:
    from conftest import Wire

Script = Callable[[ServerConnection, int], Awaitable[None]]


@asynccontextmanager
async def scripted_gateway(script: Script) -> AsyncIterator[str]:
    """A WebSocket server on 127.0.0.1:0 that runs ``script(ws, nth_connection)``."""
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        with suppress(ConnectionClosed):  # the client may leave at any point
            await script(ws, connections)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def authenticate(ws: ServerConnection, wire: Wire, wallet: str, head: int) -> Auth:
    await ws.send(wire.hello())
    auth = decode_client_frame(await ws.recv())
    assert isinstance(auth, Auth)
    await ws.send(wire.ok(wallet, head=head))
    return auth


