"""app.client.publisher against a real gateway: durable acks, pipelining, refusals."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from gateway_support import device, order

from app.client.publisher import (
    Publisher,
    PublisherUnavailable,
    PublishItem,
    PublishRefused,
    PublishRejected,
)
from app.config.secrets import GatewaySecrets
from app.gateway.server import Gateway
from app.protocol import ErrorCode, Published, UnknownEvent


@pytest.mark.asyncio
async def test_publish_returns_once_durable_and_the_device_gets_it(
    gateway: Gateway,
    gateway_secrets: GatewaySecrets,
    token_for: Callable[[str], str],
    wallet_a: str,
) -> None:
    watcher, _ = await device(gateway.url, token_for(wallet_a))
    async with Publisher(gateway.url, gateway_secrets.publish_key) as publisher:
        published = await publisher.publish(wallet_a.lower(), order(1), id="order-1")
        again = await publisher.publish(wallet_a, order(1), id="order-1")
    assert (published.wallet, published.seq, published.id) == (wallet_a, 1, "order-1")
    assert not published.duplicate and again.duplicate
    [frame] = await watcher.events(1)
    assert frame.id == "order-1"
    await watcher.close()


@pytest.mark.asyncio
async def test_publish_many_keeps_order_and_reports_each_item(
    gateway: Gateway, gateway_secrets: GatewaySecrets, wallet_a: str, wallet_b: str
) -> None:
    items: list[PublishItem] = [(wallet_a, order(n), None) for n in range(1, 1001)]
    items[10] = (wallet_a, UnknownEvent(type="new_ordr"), None)
    items[20] = ("0xnot-a-wallet", order(20), None)
    items.append((wallet_b, order(1), None))
    async with Publisher(gateway.url, gateway_secrets.publish_key, window=64) as publisher:
        results = await publisher.publish_many(items)
    assert len(results) == len(items)
    typo, bad_wallet = results[10], results[20]
    assert isinstance(typo, PublishRejected) and typo.code == ErrorCode.UNKNOWN_EVENT_TYPE
    assert isinstance(bad_wallet, PublishRejected)
    assert bad_wallet.code == ErrorCode.INVALID_EVENT
    accepted = [r for r in results[:-1] if isinstance(r, Published)]
    assert [r.seq for r in accepted] == list(range(1, 999))
    last = results[-1]
    assert isinstance(last, Published) and (last.wallet, last.seq) == (wallet_b, 1)


@pytest.mark.asyncio
async def test_a_rejected_event_raises_and_the_connection_stays(
    gateway: Gateway, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    async with Publisher(gateway.url, gateway_secrets.publish_key) as publisher:
        with pytest.raises(PublishRejected) as rejected:
            await publisher.publish(wallet_a, UnknownEvent(type="tier_upgrayded"))
        assert rejected.value.code == ErrorCode.UNKNOWN_EVENT_TYPE
        assert publisher.is_connected
        assert (await publisher.publish(wallet_a, order(1))).seq == 1


@pytest.mark.asyncio
async def test_a_wrong_key_is_refused(gateway: Gateway) -> None:
    with pytest.raises(PublishRefused, match="refused"):
        async with Publisher(gateway.url, "not-the-key"):
            pass


@pytest.mark.asyncio
async def test_an_unreachable_gateway_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        # Bound but not listening: connecting is refused.
        with pytest.raises(PublisherUnavailable, match=f"127.0.0.1:{port}"):
            async with Publisher(f"ws://127.0.0.1:{port}", "key"):
                pass


@pytest.mark.asyncio
async def test_a_closing_gateway_leaves_later_events_unacknowledged(
    gateway: Gateway, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    async with Publisher(gateway.url, gateway_secrets.publish_key) as publisher:
        await publisher.publish(wallet_a, order(1))
        await gateway.close()
        results = await publisher.publish_many([(wallet_a, order(2), None)])
        assert not publisher.is_connected
        [result] = results
        assert isinstance(result, PublishRejected)
        assert result.code == ErrorCode.UNAVAILABLE
        with pytest.raises(PublisherUnavailable):
            await publisher.publish(wallet_a, order(3))
