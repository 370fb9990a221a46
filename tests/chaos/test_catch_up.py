"""A device that was away for a long time catches up on everything, page by page."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from chaos_support import within

from app.client import GapDetected, ReplayDone, SellerClient
from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import NewOrder
from app.store import ClientStore
from app.store.gaps import GapLog

MISSED = 50_000
SECRETS = GatewaySecrets(token_secret="u" * 40, publish_key="p" * 40)


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_fifty_thousand_missed_events_are_caught_up_in_full(
    tmp_path: Path, wallet_a: str
) -> None:
    db = tmp_path / "gateway.sqlite3"
    log = SqliteEventLog(db)
    event = NewOrder(order_id="ORD-1", total=Decimal("1.00"), currency="USD")
    await asyncio.gather(*(log.append(wallet_a, event, f"evt-{n}") for n in range(1, MISSED + 1)))
    config = GatewayConfig(secrets=SECRETS, host="127.0.0.1", port=0, replay_page=500)
    async with Gateway(config, log) as gateway:
        # No store here: what is measured is the replay itself, a hundred pages of it.
        client = SellerClient(
            gateway.url,
            issue_token(SECRETS.token_secret, wallet_a, timedelta(hours=1)),
            since=0,
        )
        seqs: list[int] = []
        gaps: list[GapDetected] = []
        done: asyncio.Future[ReplayDone] = asyncio.get_running_loop().create_future()
        client.on("*", lambda frame: seqs.append(frame.seq))
        client.on_gap(gaps.append)
        client.on_replay_done(lambda replay: done.done() or done.set_result(replay))
        running = asyncio.create_task(client.run())
        try:
            replay = await within(done, "the replay to complete", deadline=60)
        finally:
            await within(client.stop(), "the client to stop")
            await asyncio.gather(running, return_exceptions=True)

    assert replay == ReplayDone(wallet_a, MISSED, MISSED)
    assert gaps == []
    assert len(seqs) == MISSED and seqs == list(range(1, MISSED + 1))


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_what_the_gateway_no_longer_has_is_a_recorded_gap_and_the_rest_arrives(
    tmp_path: Path, wallet_a: str
) -> None:
    log = SqliteEventLog(tmp_path / "gateway.sqlite3", retain=1_000)
    event = NewOrder(order_id="ORD-1", total=Decimal("1.00"), currency="USD")
    await asyncio.gather(*(log.append(wallet_a, event, f"evt-{n}") for n in range(1, 3_001)))
    device = tmp_path / "device.sqlite3"
    store = ClientStore(device)
    store.set_position(wallet_a, 500)  # last online at seq 500; 501..2000 are gone since
    gap_log = GapLog(device)
    config = GatewayConfig(secrets=SECRETS, host="127.0.0.1", port=0)
    async with Gateway(config, log) as gateway:
        client = SellerClient(
            gateway.url,
            issue_token(SECRETS.token_secret, wallet_a, timedelta(hours=1)),
            store=store,
            wallet=wallet_a,
            gaps=gap_log,
        )
        gaps: list[GapDetected] = []
        done: asyncio.Future[ReplayDone] = asyncio.get_running_loop().create_future()
        client.on_gap(gaps.append)
        client.on_replay_done(lambda replay: done.done() or done.set_result(replay))
        running = asyncio.create_task(client.run())
        try:
            await within(done, "the replay to complete", deadline=45)
        finally:
            await within(client.stop(), "the client to stop")
            await asyncio.gather(running, return_exceptions=True)

    assert gaps == [GapDetected(wallet_a, 501, 2000)]
    [record] = gap_log.recent()
    assert (record.from_seq, record.to_seq) == (501, 2000)
    assert store.count(wallet_a) == 1000 and store.last_seq(wallet_a) == 3000
    gap_log.close()
    store.close()
