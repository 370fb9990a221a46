"""The embedded demo gateway: a token and a URL that show events within seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_support import RawClient, device

from app.gateway.demo import DEMO_WALLET, DemoGateway
from app.protocol import EventFrame, NewOrder, normalize_wallet


@pytest.mark.asyncio
async def test_the_demo_streams_orders_for_its_wallet(tmp_path: Path) -> None:
    assert normalize_wallet(DEMO_WALLET) == DEMO_WALLET
    async with DemoGateway(tmp_path / "demo", rate=50, seed=4) as demo:
        assert demo.wallet == DEMO_WALLET
        assert demo.url.startswith("ws://127.0.0.1:")
        client, ok = await device(demo.url, demo.token, since=0)
        assert ok.wallet == DEMO_WALLET
        frame = await client.recv()
        while not isinstance(frame, EventFrame):
            frame = await client.recv()
        assert frame.seq == 1 and isinstance(frame.event, NewOrder)
        await client.close()
    # Leaving the block closed the gateway.
    with pytest.raises(OSError):
        await RawClient.open(demo.url)


@pytest.mark.asyncio
async def test_a_restarted_demo_continues_its_log(tmp_path: Path) -> None:
    async with DemoGateway(tmp_path / "demo", rate=200, seed=1) as demo:
        client, _ = await device(demo.url, demo.token)
        await client.events(3)
        await client.close()
    async with DemoGateway(tmp_path / "demo", rate=200, seed=1) as again:
        client, ok = await device(again.url, again.token)
        assert ok.head >= 3
        await client.close()
