"""Messages from the device to a real gateway: read marks and preferences, offline-proof."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from client_support import authenticate, scripted_gateway
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection

from app.client import Backoff, ConnectionState, ConnectionStatus, MessageSettled, SellerClient
from app.protocol import (
    AppMessage,
    Auth,
    ErrorFrame,
    Ok,
    Pong,
    Received,
    decode_client_frame,
    decode_server_frame,
    encode_frame,
)
from app.store import ClientStore
from app.store.outbox import Outbox

if TYPE_CHECKING:
    from conftest import GatewayHarness, Inbox, Waits, Wire

NOW = Backoff(initial=0, maximum=0)


def connected(status: ConnectionStatus) -> bool:
    return status.state is ConnectionState.CONNECTED


@pytest.mark.asyncio
async def test_a_message_sent_online_is_confirmed_and_leaves_the_outbox(
    gateway: GatewayHarness, waits: Waits, make_inbox: Callable[[], Inbox[Any]], wallet_a: str
) -> None:
    client = SellerClient(gateway.url, gateway.token(wallet_a), backoff=NOW)
    settled = make_inbox()
    client.on_message_settled(settled.put)
    async with waits.running(client):
        await waits.status(client, connected, "the connection")
        read = await client.mark_read(12)
        prefs = await client.update_preferences({"quietHours": "22:00-07:00"})
        confirmations = await settled.until(2, "confirmations")

    assert confirmations == [
        MessageSettled(read.key, "read_mark", delivered=True),
        MessageSettled(prefs.key, "preferences", delivered=True),
    ]
    assert read.body == {"wallet": wallet_a, "seq": 12}
    assert client.outbox.pending() == []


@pytest.mark.asyncio
async def test_messages_queued_offline_survive_a_restart_and_go_out_in_order(
    gateway: GatewayHarness, waits: Waits, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str, tmp_path: Path,
) -> None:  # fmt: skip
    db = tmp_path / "device.sqlite3"
    await gateway.stop()
    with ClientStore(db) as store, Outbox(db) as outbox:
        offline = SellerClient(gateway.url, gateway.token(wallet_a), store=store,
                               outbox=outbox, backoff=NOW)  # fmt: skip
        async with waits.running(offline):
            await waits.status(offline, lambda s: s.state is ConnectionState.BACKING_OFF,
                               "the gateway to be unreachable")  # fmt: skip
            keys = [
                (await offline.send_message("read_mark", {"seq": n})).key for n in (1, 2, 3)
            ]

    await gateway.start()
    with ClientStore(db) as store, Outbox(db) as outbox:
        assert [m.key for m in outbox.pending()] == keys  # kept across the restart
        restarted = SellerClient(gateway.url, gateway.token(wallet_a), store=store,
                                 outbox=outbox, backoff=NOW)  # fmt: skip
        settled = make_inbox()
        restarted.on_message_settled(settled.put)
        async with waits.running(restarted):
            confirmations = await settled.until(3, "confirmations")
        assert outbox.pending() == []

    assert [c.key for c in confirmations] == keys
    assert all(c.delivered and not c.duplicate for c in confirmations)


@pytest.mark.asyncio
async def test_the_gateway_applies_a_message_sent_twice_once(
    gateway: GatewayHarness, wallet_a: str
) -> None:
    async with connect(gateway.url) as ws:
        await ws.recv()  # hello
        await ws.send(encode_frame(Auth(token=gateway.token(wallet_a))))
        assert isinstance(decode_server_frame(await ws.recv()), Ok)
        message = AppMessage(id="read-7", kind="read_mark", body={"seq": 7}, ref="read-7")
        answers = []
        for _ in range(2):
            await ws.send(encode_frame(message))
            answers.append(decode_server_frame(await asyncio.wait_for(ws.recv(), 10)))

    assert answers == [
        Received(id="read-7", ref="read-7", duplicate=False),
        Received(id="read-7", ref="read-7", duplicate=True),
    ]


@pytest.mark.asyncio
async def test_a_frame_from_a_newer_client_gets_an_error_not_a_disconnect(
    gateway: GatewayHarness, wallet_a: str
) -> None:
    async with connect(gateway.url) as ws:
        await ws.recv()  # hello
        await ws.send(encode_frame(Auth(token=gateway.token(wallet_a))))
        await ws.recv()  # ok
        await ws.send(json.dumps({"type": "hologram", "ref": "h-1", "depth": 3}))
        error = decode_server_frame(await asyncio.wait_for(ws.recv(), 10))
        await ws.send(json.dumps({"type": "ping", "ref": "still-there"}))
        pong = decode_server_frame(await asyncio.wait_for(ws.recv(), 10))

    assert isinstance(error, ErrorFrame)
    assert (error.code, error.ref, error.fatal) == ("unknown_frame", "h-1", False)
    assert pong == Pong(ref="still-there")


@pytest.mark.asyncio
async def test_a_gateway_without_messages_refuses_them_and_the_connection_stays(
    waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]], wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        # What a first-version gateway does with a frame type it does not know.
        await authenticate(ws, wire, wallet_a, head=0)
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message":
                await ws.send(wire.error_for(frame["ref"], "unknown_frame",
                                             "unknown frame type 'message'"))  # fmt: skip
            else:
                decode_client_frame(raw)

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", backoff=NOW)
        settled = make_inbox()
        client.on_message_settled(settled.put)
        async with waits.running(client):
            await waits.status(client, connected, "the connection")
            message = await client.send_message("preferences", {"sound": False})
            [refused] = await settled.until(1, "the refusal")
            assert client.status.reconnects == 0

    assert refused == MessageSettled(
        message.key, "preferences", delivered=False, reason="unknown frame type 'message'"
    )
    assert client.outbox.pending() == []
