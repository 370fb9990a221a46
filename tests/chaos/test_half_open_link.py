"""A half-open link: the network between device and gateway silently swallows everything.

Nothing closes, nothing errors; only the pings go unanswered. The client must
notice within twice its ping interval and come back through a fresh
connection, losing and repeating nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from chaos_support import BlackholeProxy, Counter, status_where, within

from app.client import (
    Backoff,
    ConnectionState,
    ConnectionStatus,
    Heartbeat,
    SellerClient,
)
from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import EventFrame, NewOrder
from app.store import ClientStore

INTERVAL = 0.5
"""The client's ping interval in this test (seconds)."""
SCHEDULING_ALLOWANCE = 0.5
"""How late a loaded machine may run the client's timer. The bound itself (a dead
link is declared at most 2 × interval after the last answer) is proven exactly,
with a simulated clock, in tests/client/test_link_health.py."""
SECRETS = GatewaySecrets(token_secret="c" * 40, publish_key="p" * 40)


def order(number: int) -> NewOrder:
    return NewOrder(order_id=f"ORD-{number}", total=Decimal("12.50"), currency="USD")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_silent_link_is_noticed_within_two_pings_and_replaced_without_loss(
    make_proxy: Callable[[int], Awaitable[BlackholeProxy]], tmp_path: Path, wallet_a: str
) -> None:
    # The gateway's own heartbeat is long: only the client can notice in time.
    config = GatewayConfig(secrets=SECRETS, host="127.0.0.1", port=0, heartbeat=30)
    async with Gateway(config, SqliteEventLog(tmp_path / "gateway.sqlite3")) as gateway:
        proxy = await make_proxy(gateway.port)
        store = ClientStore(tmp_path / "device.sqlite3")
        client = SellerClient(
            proxy.url,
            issue_token(SECRETS.token_secret, wallet_a, timedelta(hours=1)),
            store=store,
            since=0,
            heartbeat=Heartbeat(interval=INTERVAL),
            backoff=Backoff(initial=0.05, maximum=0.1),
            rng=random.Random(7),
        )
        frames: list[EventFrame] = []
        arrivals = Counter()
        client.on("*", lambda frame: (frames.append(frame), arrivals.add(frame.seq)))
        loop = asyncio.get_running_loop()
        left: asyncio.Future[tuple[float, ConnectionStatus]] = loop.create_future()

        def note(status: ConnectionStatus) -> None:
            if status.state is ConnectionState.BACKING_OFF and not left.done():
                left.set_result((loop.time(), status))

        client.on_status(note)
        running = asyncio.create_task(client.run())
        try:
            await status_where(
                client,
                lambda s: s.state is ConnectionState.CONNECTED and s.quality is not None,
                "a measured connection",
            )
            for number in range(1, 11):
                await gateway.publish(wallet_a, order(number))
            await arrivals.reach(10, "events before the blackhole")

            blackholed_at = loop.time()
            proxy.blackhole()
            for number in range(11, 21):  # swallowed by the dead link; must come later
                await gateway.publish(wallet_a, order(number))
            noticed_at, noticed = await within(left, "the client to notice the dead link")
            await arrivals.reach(20, "events after the fresh connection")
            back = await status_where(
                client, lambda s: s.state is ConnectionState.CONNECTED, "the fresh connection"
            )
        finally:
            await within(client.stop(), "the client to stop")
            await asyncio.gather(running, return_exceptions=True)
            # The gateway would wait out a close handshake with the frozen connection.
            await proxy.close()

    assert noticed.reason.startswith(f"gateway at {proxy.url} stopped answering pings")
    assert noticed_at - blackholed_at <= 2 * INTERVAL + SCHEDULING_ALLOWANCE
    assert proxy.accepted == 2  # the dead path was left for a fresh one
    assert back.reconnects == 1
    assert [frame.seq for frame in frames] == list(range(1, 21))  # no loss, no repeat
    assert store.count(wallet_a) == 20
    store.close()
