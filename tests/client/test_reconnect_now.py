"""``SellerClient.reconnect_now``: after a wake or a network change, no waiting out a backoff."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from client_support import authenticate, scripted_gateway
from websockets.asyncio.server import ServerConnection

from app.client import Backoff, ConnectionState, ConnectionStatus, SellerClient

if TYPE_CHECKING:
    from conftest import GatewayHarness, Inbox, Waits, Wire


class LongestDraw(random.Random):
    """Every backoff draw is the longest the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


def backing_off(status: ConnectionStatus) -> bool:
    return status.state is ConnectionState.BACKING_OFF


def connected(status: ConnectionStatus) -> bool:
    return status.state is ConnectionState.CONNECTED


@pytest.mark.asyncio
async def test_a_long_backoff_is_cut_short(gateway: GatewayHarness, waits: Waits,
                                           wallet_a: str) -> None:  # fmt: skip
    await gateway.stop()
    client = SellerClient(
        gateway.url, gateway.token(wallet_a),
        backoff=Backoff(initial=60, maximum=60), rng=LongestDraw(),
    )  # fmt: skip
    async with waits.running(client):
        waiting = await waits.status(client, backing_off, "a long backoff")
        await gateway.start()
        client.reconnect_now("network back (online)")
        status = await waits.status(client, connected, "the connection after the wake")

    assert waiting.reason.endswith("retrying in 60.0 s")
    assert status.reconnects == 1


@pytest.mark.asyncio
async def test_a_link_that_looks_connected_is_replaced_without_loss_or_repeat(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str,
) -> None:  # fmt: skip
    client = SellerClient(gateway.url, gateway.token(wallet_a), since=0, backoff=Backoff())
    seqs = make_inbox()
    statuses: list[ConnectionStatus] = []
    client.on("*", lambda frame: seqs.put(frame.seq))
    client.on_status(statuses.append)
    async with waits.running(client):
        await waits.status(client, connected, "the first connection")
        await gateway.publish(wallet_a, wire.new_order("ORD-1"))
        await seqs.until(1, "the first event")

        client.reconnect_now("woke from sleep (away about 3.0 h, by the wall clock)")
        await gateway.publish(wallet_a, wire.new_order("ORD-2"))
        await waits.status(client, lambda s: connected(s) and s.reconnects == 1, "a new link")
        await gateway.publish(wallet_a, wire.new_order("ORD-3"))
        await seqs.until(3, "every event")

    assert seqs.items == [1, 2, 3]
    reasons = [s.reason for s in statuses if backing_off(s)]
    assert reasons == [
        "woke from sleep (away about 3.0 h, by the wall clock); reconnecting now"
    ]


@pytest.mark.asyncio
async def test_a_gateway_that_asked_for_time_still_gets_it(
    waits: Waits, wire: Wire, wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0)
        await ws.send(wire.error("rate_limited", "too many devices", fatal=True, retry_after=30))
        await ws.close(1013, "try again later")

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", backoff=Backoff(initial=0, maximum=0))
        async with waits.running(client):
            await waits.status(client, backing_off, "the backoff the gateway asked for")
            client.reconnect_now("network back (online)")
            status = await waits.status(
                client, lambda s: "asked to wait" in s.reason, "the hint to be honoured"
            )

    assert status.state is ConnectionState.BACKING_OFF
    assert status.reason.startswith("network back (online); the gateway asked to wait ")


@pytest.mark.asyncio
async def test_reconnect_now_does_nothing_when_not_running(wallet_a: str) -> None:
    client = SellerClient("ws://127.0.0.1:9", "token")

    client.reconnect_now("network back (online)")

    assert client.status.state is ConnectionState.DISCONNECTED


class CeilingRecorder(random.Random):
    """Records each backoff ceiling it is asked to draw under, and draws 0."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return 0.0


@pytest.mark.asyncio
async def test_orderly_gateway_restarts_do_not_grow_the_backoff(
    waits: Waits, wire: Wire, wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0)
        await ws.close(1001, "server shutdown; retry after 0s")

    recorder = CeilingRecorder()
    async with scripted_gateway(script) as url:
        client = SellerClient(
            url, "token", backoff=Backoff(initial=0.001, maximum=10, factor=10), rng=recorder
        )
        async with waits.running(client):
            await waits.status(client, lambda s: s.reconnects >= 4, "four reconnects")

    # Each restart said when to come back and the sign-in worked: no penalty grows.
    assert recorder.ceilings[:4] == [0.001] * 4
