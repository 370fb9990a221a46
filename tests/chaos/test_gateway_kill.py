"""The gateway process is killed with SIGKILL five times while 2,000 events are published
at about 200 per second: every acknowledged event reaches the device exactly once, in
seq order, and survives in its store."""

from __future__ import annotations

import asyncio
import random
from collections import Counter as Tally
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from chaos_support import Counter, GatewayProcess, within

from app.client import Backoff, Heartbeat, SellerClient
from app.client.publisher import Publisher, PublisherUnavailable, PublishRejected
from app.config.secrets import GatewaySecrets
from app.protocol import EventFrame, NewOrder, PaymentReceived, SellerEvent
from app.store import ClientStore

EVENTS = 2000
RATE = 200.0
"""Events published per second."""
KILLS = 5
WALLETS = (
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
)
FAST_RETRY = Backoff(initial=0.05, maximum=0.25)
HEARTBEAT = Heartbeat(interval=0.5)


def make_event(rng: random.Random, number: int) -> SellerEvent:
    if rng.random() < 0.7:
        return NewOrder(
            order_id=f"ORD-{number}",
            total=Decimal(rng.randint(100, 99_999)) / 100,
            currency="USDC",
        )
    return PaymentReceived(
        amount=Decimal(rng.randint(1, 10_000)) / 10_000,
        currency="ETH",
        transaction_hash="0x" + f"{number:064x}",
        order_id=f"ORD-{number - 1}",
    )


class ResilientPublisher:
    """Publishes each event until the gateway acknowledges it, reconnecting after kills.

    The event's id is its idempotency key, so publishing it again after an
    unanswered attempt stores it once.
    """

    def __init__(self, gateway: GatewayProcess, key: str) -> None:
        self._gateway = gateway
        self._key = key
        self._publisher: Publisher | None = None
        self._connecting = asyncio.Lock()
        self.acked: dict[str, tuple[str, int]] = {}
        """id → (wallet, seq) as acknowledged."""
        self.acknowledged = Counter()
        self.retries = 0

    async def _connected(self) -> Publisher:
        async with self._connecting:
            publisher = self._publisher
            if publisher is not None and publisher.is_connected:
                return publisher
            await within(self._gateway.up.wait(), "the gateway to come back")
            publisher = Publisher(self._gateway.url, self._key, open_timeout=5)
            await publisher.connect()
            self._publisher = publisher
            return publisher

    async def publish(self, wallet: str, event: SellerEvent, event_id: str) -> None:
        while True:
            try:
                publisher = await self._connected()
                published = await publisher.publish(wallet, event, id=event_id)
            except PublisherUnavailable:
                self.retries += 1
                continue
            except PublishRejected as exc:
                assert exc.code in ("unavailable", "server_shutdown"), exc
                self.retries += 1
                continue
            self.acked[event_id] = (published.wallet, published.seq)
            self.acknowledged.add(event_id)
            return

    async def close(self) -> None:
        if self._publisher is not None:
            await self._publisher.close()


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_sigkilled_gateway_loses_nothing_acknowledged_and_repeats_nothing(
    gateway_process: GatewayProcess,
    gateway_secrets: GatewaySecrets,
    token_for: Callable[[str], str],
    tmp_path: Path,
) -> None:
    rng = random.Random(20261125)
    await gateway_process.start()
    publisher = ResilientPublisher(gateway_process, gateway_secrets.publish_key)

    stores = {wallet: ClientStore(tmp_path / f"device-{n}.sqlite3") for n, wallet in
              enumerate(WALLETS)}  # fmt: skip
    received: dict[str, list[EventFrame]] = {wallet: [] for wallet in WALLETS}
    arrivals = Counter()
    clients = []
    for wallet in WALLETS:
        client = SellerClient(
            gateway_process.url, token_for(wallet), wallet=wallet, store=stores[wallet],
            since=0, backoff=FAST_RETRY, heartbeat=HEARTBEAT, rng=random.Random(rng.random()),
        )  # fmt: skip
        client.on("*", lambda frame, wallet=wallet: (received[wallet].append(frame),
                                                     arrivals.add(frame.id)))  # fmt: skip
        clients.append(client)
    running = [asyncio.create_task(client.run()) for client in clients]

    async def publish_all() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        tasks = []
        for number in range(EVENTS):
            # Paced at RATE per second: load generation, not synchronisation.
            delay = started + number / RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            wallet = WALLETS[number % len(WALLETS)]
            event = make_event(rng, number)
            tasks.append(asyncio.create_task(publisher.publish(wallet, event, f"evt-{number}")))
        await asyncio.gather(*tasks)

    async def kill_repeatedly() -> None:
        for kill in range(1, KILLS + 1):
            # Spread over the run: the n-th kill once n/(KILLS+1) of the events are acknowledged.
            await publisher.acknowledged.reach(
                EVENTS * kill // (KILLS + 1), "acknowledged events", deadline=60
            )
            await gateway_process.kill()
            await gateway_process.start()

    try:
        await within(asyncio.gather(publish_all(), kill_repeatedly()), "publishing", 75)
        await arrivals.reach(EVENTS, "events delivered", deadline=30)
    finally:
        for client in clients:
            await within(client.stop(), "a client to stop")
        await asyncio.gather(*running, return_exceptions=True)
        await publisher.close()

    assert gateway_process.starts == KILLS + 1
    assert len(publisher.acked) == EVENTS
    # Exactly once: every acknowledged id arrived one time, nothing else arrived.
    tally = Tally(arrivals.items)
    assert set(tally) == set(publisher.acked)
    assert max(tally.values()) == 1
    for wallet in WALLETS:
        frames = received[wallet]
        acked_here = sorted(seq for w, seq in publisher.acked.values() if w == wallet)
        # In seq order, without a hole: the gateway's numbering survived every kill.
        assert [frame.seq for frame in frames] == list(range(1, len(acked_here) + 1))
        assert acked_here == [frame.seq for frame in frames]
        assert all(publisher.acked[frame.id] == (wallet, frame.seq) for frame in frames)
        assert stores[wallet].count(wallet) == len(frames)
        assert stores[wallet].last_seq(wallet) == len(frames)
        stores[wallet].close()
