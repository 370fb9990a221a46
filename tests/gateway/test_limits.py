"""Limits: frames per second per connection, connections per computer and per wallet,
browser origins, idle publishers, no compression — each refusal with its own code and
a retry hint the client honours."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from gateway_support import DEADLINE, RawClient, StartGateway, device, order, refusal
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from app.client import Backoff, ConnectionState, ConnectionStatus, SellerClient
from app.client.publisher import Publisher
from app.config.secrets import GatewaySecrets
from app.gateway.limits import ConnectionCaps, TokenBucket, client_address
from app.protocol import Auth, CloseCode, ErrorCode, ErrorFrame, Ping, Pong, PublisherAuth

TokenFor = Callable[[str], str]


async def _first_frames(ws: ClientConnection) -> tuple[list[dict[str, object]], int | None, str]:
    """Every frame until the close, as JSON, then the close code and reason."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), DEADLINE)))
    except ConnectionClosed:
        pass
    await asyncio.wait_for(ws.wait_closed(), DEADLINE)
    return frames, ws.close_code, ws.close_reason or ""


# --- frames per second ------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_flooding_device_is_closed_with_1008_and_a_retry_hint(
    start_gateway: StartGateway, token_for: TokenFor, wallet_a: str
) -> None:
    gateway = await start_gateway(frame_rate=0.001, frame_burst=5, throttle_retry_after=7)
    client, _ = await device(gateway.url, token_for(wallet_a))  # the auth frame is one
    for n in range(5):
        await client.send(Ping(ref=str(n)))
    code, reason, frames = await client.closed()
    assert frames[:4] == [Pong(ref=str(n)) for n in range(4)]
    error = frames[-1]
    assert isinstance(error, ErrorFrame)
    assert (error.code, error.retry_after, error.fatal) == (ErrorCode.RATE_LIMITED, 7.0, True)
    assert code == CloseCode.POLICY
    assert reason is not None and "retry after 7s" in reason


@pytest.mark.asyncio
async def test_flooding_before_authenticating_is_limited_too(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(frame_rate=0.001, frame_burst=3)
    client = await RawClient.open(gateway.url)
    for n in range(4):
        await client.send(Ping(ref=str(n)))
    error, code = await refusal(client)
    assert (error.code, code) == (ErrorCode.RATE_LIMITED, CloseCode.POLICY)


def test_a_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5)  # one token back after half a second at 2/s
    assert not bucket.take(0.5)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]  # capped at 3


# --- connections per computer and per wallet ---------------------------------------


@pytest.mark.asyncio
async def test_too_many_connections_from_one_computer(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(max_connections_per_ip=2, throttle_retry_after=9)
    first, second = await RawClient.open(gateway.url), await RawClient.open(gateway.url)
    async with connect(gateway.url, open_timeout=DEADLINE) as third:
        frames, code, reason = await _first_frames(third)
    assert frames == [
        {
            "type": "error",
            "code": "too_many_connections",
            "message": "too many connections from this computer; retry after 9s",
            "retryAfter": 9.0,
            "fatal": True,
        }
    ]
    assert (code, reason) == (CloseCode.POLICY, "too many connections from this computer; "
                              "retry after 9s")  # fmt: skip
    await first.close()
    await first.ws.wait_closed()
    # A freed place is taken by the next connection (the count follows closes).
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while gateway._ip_caps.count("127.0.0.1") != 1:  # noqa: SLF001
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    again = await RawClient.open(gateway.url)
    await again.close()
    await second.close()


@pytest.mark.asyncio
async def test_the_client_waits_as_long_as_the_gateway_asks(start_gateway: StartGateway,
                                                            token_for: TokenFor,
                                                            wallet_a: str) -> None:  # fmt: skip
    gateway = await start_gateway(max_connections_per_ip=1, throttle_retry_after=600)
    holder = await RawClient.open(gateway.url)
    client = SellerClient(gateway.url, token_for(wallet_a), backoff=Backoff(initial=0.01))
    backing_off: asyncio.Future[tuple[ConnectionStatus, datetime]] = (
        asyncio.get_running_loop().create_future()
    )

    def watch(status: ConnectionStatus) -> None:
        if status.state is ConnectionState.BACKING_OFF and not backing_off.done():
            backing_off.set_result((status, datetime.now(UTC)))

    client.on_status(watch)
    running = asyncio.create_task(client.run())
    status, seen = await asyncio.wait_for(backing_off, DEADLINE)
    await client.stop()
    await running
    await holder.close()
    assert "too many connections from this computer" in status.reason
    assert status.next_attempt_at is not None
    # The plan honours the hint (600 s), not the 0.01 s backoff.
    assert (status.next_attempt_at - seen).total_seconds() > 590


@pytest.mark.asyncio
async def test_too_many_devices_of_one_wallet(
    start_gateway: StartGateway, token_for: TokenFor, wallet_a: str, wallet_b: str
) -> None:
    gateway = await start_gateway(max_connections_per_wallet=2)
    kept = [await device(gateway.url, token_for(wallet_a)) for _ in range(2)]
    extra = await RawClient.open(gateway.url)
    await extra.send(Auth(token=token_for(wallet_a)))
    error, code = await refusal(extra)
    assert (error.code, code) == (ErrorCode.TOO_MANY_DEVICES, CloseCode.POLICY)
    assert error.retry_after is not None
    other, ok = await device(gateway.url, token_for(wallet_b))
    assert ok.wallet == wallet_b
    for client, _ in [*kept, (other, ok)]:
        await client.close()


def test_forwarded_addresses_count_only_behind_a_trusted_proxy() -> None:
    proxies = ("10.0.0.2",)
    assert client_address("203.0.113.9", "198.51.100.1", proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", "198.51.100.1", proxies) == "198.51.100.1"
    # A client cannot hide behind an address it wrote itself: the rightmost hop counts.
    assert client_address("10.0.0.2", "1.2.3.4, 198.51.100.1", proxies) == "198.51.100.1"
    assert client_address("10.0.0.2", "198.51.100.1, 10.0.0.2", proxies) == "198.51.100.1"
    assert client_address("10.0.0.2", "not-an-ip", proxies) == "10.0.0.2"
    assert client_address(None, None, proxies) == "unknown"


def test_connection_caps_count_and_release() -> None:
    caps = ConnectionCaps(2)
    assert caps.admit("a") and caps.admit("a") and not caps.admit("a")
    assert caps.admit("b")
    caps.release("a")
    assert caps.count("a") == 1 and caps.admit("a")


@pytest.mark.asyncio
async def test_each_computer_behind_a_trusted_proxy_has_its_own_cap(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(max_connections_per_ip=1, trusted_proxies=("127.0.0.1",))

    first = await RawClient.open(gateway.url, additional_headers={"X-Forwarded-For": "192.0.2.1"})
    second = await RawClient.open(gateway.url, additional_headers={"X-Forwarded-For": "192.0.2.2"})
    async with connect(
        gateway.url, open_timeout=DEADLINE, additional_headers={"X-Forwarded-For": "192.0.2.1"}
    ) as third:
        frames, code, _ = await _first_frames(third)
    assert frames[0]["code"] == "too_many_connections" and code == CloseCode.POLICY
    await first.close()
    await second.close()


# --- origins, idle publishers, compression -----------------------------------------


@pytest.mark.asyncio
async def test_browsers_are_refused_unless_their_origin_is_allowed(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(allowed_origins=("https://shop.example.com",))
    with pytest.raises(InvalidStatus) as refused:
        await connect(gateway.url, origin=Origin("https://evil.example"), open_timeout=DEADLINE)
    assert refused.value.response.status_code == 403
    allowed = await RawClient.open(gateway.url, origin=Origin("https://shop.example.com"))
    await allowed.close()
    app = await RawClient.open(gateway.url)  # the tray app sends no Origin
    await app.close()


@pytest.mark.asyncio
async def test_by_default_no_browser_page_may_connect(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    with pytest.raises(InvalidStatus):
        await connect(gateway.url, origin=Origin("http://127.0.0.1:1"), open_timeout=DEADLINE)


@pytest.mark.asyncio
async def test_an_idle_publisher_is_closed(
    start_gateway: StartGateway, gateway_secrets: GatewaySecrets
) -> None:
    gateway = await start_gateway(idle_timeout=0.2)
    publisher = await RawClient.open(gateway.url)
    await publisher.send(PublisherAuth(key=gateway_secrets.publish_key))
    await publisher.recv()  # ok
    code, reason, _ = await publisher.closed()
    assert code == CloseCode.NORMAL
    assert reason == "idle for 0.2 seconds"


@pytest.mark.asyncio
async def test_compression_is_never_negotiated(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    async with connect(gateway.url, compression="deflate", open_timeout=DEADLINE) as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


@pytest.mark.asyncio
async def test_the_publisher_client_keeps_a_quiet_connection_open(
    start_gateway: StartGateway, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    gateway = await start_gateway(idle_timeout=0.3)
    async with Publisher(gateway.url, gateway_secrets.publish_key, keepalive=0.05) as publisher:
        # Being quiet for longer than the gateway's idle timeout is what is tested here.
        await asyncio.sleep(0.6)
        assert publisher.is_connected
        published = await publisher.publish(wallet_a, order(1))
    assert published.seq == 1
