"""The gateway over real sockets: auth, isolation, resume without gaps or repeats,
idempotent publishing, graceful shutdown. Each test runs a gateway on 127.0.0.1:0
with a SQLite log in tmp_path and talks to it with a bare websockets client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from gateway_support import DEADLINE, RawClient, StartGateway, device, order, refusal

from app.client.publisher import Publisher
from app.config.secrets import GatewaySecrets
from app.gateway.server import Gateway, GatewayClosed
from app.gateway.tokens import issue_token
from app.protocol import (
    MAX_FRAME_BYTES,
    Ack,
    Auth,
    CloseCode,
    ErrorCode,
    ErrorFrame,
    EventFrame,
    Gap,
    NewOrder,
    Ok,
    Ping,
    Pong,
    Publish,
    Published,
    PublisherAuth,
    Replayed,
    ServerFrame,
    UnknownEvent,
)

TokenFor = Callable[[str], str]


async def _publisher(client: RawClient, key: str) -> None:
    await client.send(PublisherAuth(key=key))
    ok = await client.recv()
    assert isinstance(ok, Ok) and ok.role == "publisher", ok


async def _until_replayed(client: RawClient) -> tuple[list[ServerFrame], Replayed]:
    frames: list[ServerFrame] = []
    while True:
        frame = await client.recv()
        if isinstance(frame, Replayed):
            return frames, frame
        frames.append(frame)


# --- authentication ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_device_is_greeted_then_told_where_its_log_stands(
    gateway: Gateway, token_for: TokenFor, wallet_a: str
) -> None:
    for n in range(3):
        await gateway.publish(wallet_a, order(n))
    client = await RawClient.open(gateway.url)
    assert client.hello.heartbeat == gateway.config.heartbeat
    assert client.hello.nonce
    await client.send(Auth(token=token_for(wallet_a.lower()), ref="a1"))
    ok = await client.recv()
    assert ok == Ok(ref="a1", role="seller", wallet=wallet_a, head=3, retained_from=1)
    await client.close()


@pytest.mark.asyncio
async def test_a_token_from_another_gateway_is_refused_with_4001(
    gateway: Gateway, wallet_a: str
) -> None:
    client = await RawClient.open(gateway.url)
    token = issue_token("another-gateway-secret-" + "x" * 32, wallet_a, timedelta(hours=1))
    await client.send(Auth(token=token))
    error, code = await refusal(client)
    assert error.code == ErrorCode.AUTH_FAILED
    assert "signature" in error.message
    assert token not in error.message
    assert code == CloseCode.AUTH_FAILED


@pytest.mark.asyncio
async def test_an_expired_token_is_refused_with_4002(
    gateway: Gateway, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    issued = datetime.now(UTC) - timedelta(days=31)
    token = issue_token(gateway_secrets.token_secret, wallet_a, timedelta(days=30), now=issued)
    client = await RawClient.open(gateway.url)
    await client.send(Auth(token=token))
    error, code = await refusal(client)
    assert error.code == ErrorCode.TOKEN_EXPIRED
    assert "expired on" in error.message
    assert code == CloseCode.TOKEN_EXPIRED


@pytest.mark.asyncio
async def test_the_publish_key_is_not_a_device_token(
    gateway: Gateway, gateway_secrets: GatewaySecrets
) -> None:
    client = await RawClient.open(gateway.url)
    await client.send(Auth(token=gateway_secrets.publish_key))
    error, code = await refusal(client)
    assert error.code == ErrorCode.AUTH_FAILED
    assert code == CloseCode.AUTH_FAILED


@pytest.mark.asyncio
async def test_a_device_token_is_not_a_publish_key(
    gateway: Gateway, token_for: TokenFor, wallet_a: str
) -> None:
    client = await RawClient.open(gateway.url)
    await client.send(PublisherAuth(key=token_for(wallet_a), ref="p"))
    error, code = await refusal(client)
    assert (error.code, error.ref) == (ErrorCode.AUTH_FAILED, "p")
    assert code == CloseCode.AUTH_FAILED


@pytest.mark.asyncio
async def test_a_connection_that_never_authenticates_is_closed(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(handshake_timeout=0.2)
    client = await RawClient.open(gateway.url)
    error, code = await refusal(client)
    assert error.code == ErrorCode.AUTH_REQUIRED
    assert code == CloseCode.POLICY


@pytest.mark.asyncio
async def test_frames_before_auth_are_refused(gateway: Gateway, wallet_a: str) -> None:
    client = await RawClient.open(gateway.url)
    await client.send(Ping(ref="early"))
    assert await client.recv() == Pong(ref="early")
    await client.send(Ack(wallet=wallet_a, seq=1))
    error, code = await refusal(client)
    assert error.code == ErrorCode.AUTH_REQUIRED
    assert code == CloseCode.PROTOCOL


# --- a device's stream ------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_device_only_ever_sees_its_own_wallet(
    gateway: Gateway, token_for: TokenFor, wallet_a: str, wallet_b: str
) -> None:
    await gateway.publish(wallet_b, order(100))
    await gateway.publish(wallet_a, order(1))
    a, ok = await device(gateway.url, token_for(wallet_a), since=0)
    assert (ok.wallet, ok.head) == (wallet_a, 1)
    replayed, done = await _until_replayed(a)
    assert [(f.wallet, f.seq) for f in replayed if isinstance(f, EventFrame)] == [(wallet_a, 1)]
    assert done == Replayed(wallet=wallet_a, head=1, count=1)

    # Live: events for B while A is connected never reach A.
    for n in range(5):
        await gateway.publish(wallet_b, order(200 + n))
    await gateway.publish(wallet_a, order(2))
    [live] = await a.events(1)
    assert (live.wallet, live.seq) == (wallet_a, 2)
    assert isinstance(live.event, NewOrder) and live.event.order_id == "ORD-2"

    b, ok_b = await device(gateway.url, token_for(wallet_b), since=0)
    replayed_b, _ = await _until_replayed(b)
    assert {f.wallet for f in replayed_b if isinstance(f, EventFrame)} == {wallet_b}
    assert ok_b.head == 6
    await a.close()
    await b.close()


@pytest.mark.asyncio
async def test_an_ack_for_another_wallet_is_refused(
    gateway: Gateway, token_for: TokenFor, wallet_a: str, wallet_b: str
) -> None:
    client, _ = await device(gateway.url, token_for(wallet_a))
    await client.send(Ack(wallet=wallet_a, seq=1))
    await client.send(Ack(wallet=wallet_b, seq=1))
    error = await client.recv()
    assert isinstance(error, ErrorFrame)
    assert (error.code, error.fatal) == (ErrorCode.FORBIDDEN, False)
    await client.close()


@pytest.mark.parametrize("since", [0, 10, 25])
@pytest.mark.asyncio
async def test_resume_is_exact_across_the_replay_live_seam(
    start_gateway: StartGateway, token_for: TokenFor, wallet_a: str, since: int
) -> None:
    # Small pages: the replay takes many log reads, while live events keep coming.
    gateway = await start_gateway(replay_page=3)
    for n in range(1, 31):
        await gateway.publish(wallet_a, order(n))

    async def publish_live() -> None:
        for n in range(31, 81):
            await gateway.publish(wallet_a, order(n))

    live = asyncio.create_task(publish_live())
    client, ok = await device(gateway.url, token_for(wallet_a), since=since)
    frames, done = await _until_replayed(client)
    replayed = [f for f in frames if isinstance(f, EventFrame)]
    assert replayed == frames  # no gap, nothing else
    assert done.count == len(replayed) and done.head == replayed[-1].seq
    assert ok.head <= done.head
    rest = await client.events(80 - done.head)
    await live

    received = [*replayed, *rest]
    assert [f.seq for f in received] == list(range(since + 1, 81))
    orders = [f.event.order_id for f in received if isinstance(f.event, NewOrder)]
    assert orders == [f"ORD-{n}" for n in range(since + 1, 81)]
    await client.close()


@pytest.mark.asyncio
async def test_without_since_only_live_events_arrive(
    gateway: Gateway, token_for: TokenFor, wallet_a: str
) -> None:
    for n in range(4):
        await gateway.publish(wallet_a, order(n))
    client, ok = await device(gateway.url, token_for(wallet_a), since=None)
    assert ok.head == 4
    await gateway.publish(wallet_a, order(99))
    [frame] = await client.events(1)
    assert frame.seq == 5
    await client.close()


@pytest.mark.asyncio
async def test_a_since_beyond_the_head_gets_new_events(
    gateway: Gateway, token_for: TokenFor, wallet_a: str
) -> None:
    await gateway.publish(wallet_a, order(1))
    client, ok = await device(gateway.url, token_for(wallet_a), since=50)
    assert ok.head == 1
    assert await client.recv() == Replayed(wallet=wallet_a, head=1, count=0)
    await gateway.publish(wallet_a, order(2))
    [frame] = await client.events(1)
    assert frame.seq == 2
    await client.close()


@pytest.mark.asyncio
async def test_events_no_longer_retained_are_announced_as_a_gap(
    start_gateway: StartGateway, token_for: TokenFor, wallet_a: str
) -> None:
    gateway = await start_gateway(retain=5)
    for n in range(1, 13):
        await gateway.publish(wallet_a, order(n))
    client, ok = await device(gateway.url, token_for(wallet_a), since=2)
    assert (ok.retained_from, ok.head) == (8, 12)
    replayed, done = await _until_replayed(client)
    assert replayed[0] == Gap(wallet=wallet_a, from_seq=3, to_seq=7)
    assert [f.seq for f in replayed[1:] if isinstance(f, EventFrame)] == [8, 9, 10, 11, 12]
    assert done == Replayed(wallet=wallet_a, head=12, count=5)
    await client.close()


@pytest.mark.asyncio
async def test_a_device_that_falls_behind_catches_up_from_the_log(
    start_gateway: StartGateway, token_for: TokenFor, wallet_a: str
) -> None:
    gateway = await start_gateway(buffer_limit=2)
    client, _ = await device(gateway.url, token_for(wallet_a))
    # Published together, the live events overflow the device's 2-frame buffer.
    await asyncio.gather(*(gateway.publish(wallet_a, order(n)) for n in range(1, 101)))
    frames = await client.events(100)
    assert [f.seq for f in frames] == list(range(1, 101))
    await client.close()


@pytest.mark.asyncio
async def test_bad_frames_from_a_device_are_answered_not_fatal(
    gateway: Gateway, token_for: TokenFor, wallet_a: str
) -> None:
    client, _ = await device(gateway.url, token_for(wallet_a))
    await client.send("this is not json")
    error = await client.recv()
    assert isinstance(error, ErrorFrame)
    assert (error.code, error.fatal) == (ErrorCode.BAD_FRAME, False)
    await client.send({"type": "teleport", "ref": "t1"})
    unknown = await client.recv()
    assert isinstance(unknown, ErrorFrame)
    assert (unknown.code, unknown.ref) == (ErrorCode.UNKNOWN_FRAME, "t1")
    await client.send(Ping(ref="still-there"))
    assert await client.recv() == Pong(ref="still-there")
    await client.close()


@pytest.mark.asyncio
async def test_a_second_auth_and_publishing_are_refused_on_a_device_connection(
    gateway: Gateway, token_for: TokenFor, wallet_a: str, wallet_b: str
) -> None:
    client, _ = await device(gateway.url, token_for(wallet_a))
    await client.send(Auth(token=token_for(wallet_b), ref="again"))
    again = await client.recv()
    assert isinstance(again, ErrorFrame)
    assert (again.code, again.ref, again.fatal) == (ErrorCode.UNSUPPORTED, "again", False)
    await client.send(Publish(wallet=wallet_b, event=order(1), ref="pub"))
    publish = await client.recv()
    assert isinstance(publish, ErrorFrame)
    assert (publish.code, publish.ref) == (ErrorCode.FORBIDDEN, "pub")
    # Still A's connection, and nothing reached B.
    await gateway.publish(wallet_a, order(2))
    [frame] = await client.events(1)
    assert frame.wallet == wallet_a
    assert await gateway._log.bounds(wallet_b) == (0, 0)  # noqa: SLF001
    await client.close()


# --- publishing -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_repeated_id_is_stored_and_delivered_once(
    gateway: Gateway, gateway_secrets: GatewaySecrets, token_for: TokenFor, wallet_a: str
) -> None:
    watcher, _ = await device(gateway.url, token_for(wallet_a))
    publisher = await RawClient.open(gateway.url)
    await _publisher(publisher, gateway_secrets.publish_key)
    for ref in ("first", "second"):
        await publisher.send(Publish(wallet=wallet_a, event=order(1), id="evt-1", ref=ref))
    answers = [await publisher.recv(), await publisher.recv()]
    by_ref = {a.ref: a for a in answers if isinstance(a, Published)}
    assert by_ref["first"] == Published(ref="first", wallet=wallet_a, seq=1, id="evt-1")
    assert by_ref["second"] == Published(
        ref="second", wallet=wallet_a, seq=1, id="evt-1", duplicate=True
    )
    await publisher.send(Publish(wallet=wallet_a, event=order(2), ref="third"))
    assert isinstance(await publisher.recv(), Published)
    frames = await watcher.events(2)
    assert [(f.seq, f.id) for f in frames][0] == (1, "evt-1")
    assert frames[1].seq == 2
    await publisher.close()
    await watcher.close()


@pytest.mark.asyncio
async def test_an_invalid_publish_is_refused_and_the_connection_stays(
    gateway: Gateway, gateway_secrets: GatewaySecrets, wallet_a: str
) -> None:
    publisher = await RawClient.open(gateway.url)
    await _publisher(publisher, gateway_secrets.publish_key)
    bad_total = {
        "type": "publish",
        "ref": "r1",
        "wallet": wallet_a,
        "event": {"type": "new_order", "orderId": "X", "total": 12.5, "currency": "USD"},
    }
    await publisher.send(bad_total)
    error = await publisher.recv()
    assert isinstance(error, ErrorFrame)
    assert (error.code, error.ref, error.fatal) == (ErrorCode.INVALID_EVENT, "r1", False)
    assert "total" in error.message

    bad_wallet = {"type": "publish", "ref": "r2", "wallet": "0x1234", "event": {"type": "x"}}
    await publisher.send(bad_wallet)
    error = await publisher.recv()
    assert isinstance(error, ErrorFrame)
    assert (error.code, error.ref) == (ErrorCode.INVALID_EVENT, "r2")

    typo = {"type": "publish", "ref": "r3", "wallet": wallet_a, "event": {"type": "new_ordr"}}
    await publisher.send(typo)
    error = await publisher.recv()
    assert isinstance(error, ErrorFrame)
    assert (error.code, error.ref) == (ErrorCode.UNKNOWN_EVENT_TYPE, "r3")
    assert "new_ordr" in error.message

    await publisher.send(Publish(wallet=wallet_a, event=order(1), ref="r4"))
    published = await publisher.recv()
    assert isinstance(published, Published)
    assert (published.ref, published.seq) == ("r4", 1)
    await publisher.close()


@pytest.mark.asyncio
async def test_in_process_publish_refuses_what_a_publisher_could_not_send(
    gateway: Gateway, wallet_a: str
) -> None:
    with pytest.raises(ValueError, match="not a wallet"):
        await gateway.publish("0x1234", order(1))
    with pytest.raises(ValueError, match="unknown event type"):
        await gateway.publish(wallet_a, UnknownEvent(type="new_ordr"))


# --- the server as a whole --------------------------------------------------------


@pytest.mark.asyncio
async def test_healthz_answers_plain_http(gateway: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    await writer.wait_closed()
    status, _, body = response.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200")
    assert body.strip() == b"ok"


@pytest.mark.asyncio
async def test_closing_tells_every_connection_to_come_back(
    start_gateway: StartGateway, gateway_secrets: GatewaySecrets, token_for: TokenFor, wallet_a: str
) -> None:
    gateway = await start_gateway()
    watcher, _ = await device(gateway.url, token_for(wallet_a))
    publisher = await RawClient.open(gateway.url)
    await _publisher(publisher, gateway_secrets.publish_key)

    await gateway.close()

    for client in (watcher, publisher):
        code, reason, frames = await client.closed()
        [notice] = frames
        assert isinstance(notice, ErrorFrame)
        assert (notice.code, notice.retry_after) == (ErrorCode.SERVER_SHUTDOWN, 1.0)
        assert code == CloseCode.GOING_AWAY
        assert reason is not None and "retry after" in reason
    with pytest.raises(GatewayClosed):
        await gateway.publish(wallet_a, order(1))
    with pytest.raises(OSError):
        await RawClient.open(gateway.url)


@pytest.mark.asyncio
async def test_acknowledged_events_survive_a_restart(
    start_gateway: StartGateway, gateway_secrets: GatewaySecrets, token_for: TokenFor, wallet_a: str
) -> None:
    first = await start_gateway()
    async with Publisher(first.url, gateway_secrets.publish_key) as publisher:
        results = await publisher.publish_many([(wallet_a, order(n), None) for n in range(25)])
    assert [r.seq for r in results if isinstance(r, Published)] == list(range(1, 26))
    await first.close()

    second = await start_gateway()
    client, ok = await device(second.url, token_for(wallet_a), since=0)
    assert (ok.retained_from, ok.head) == (1, 25)
    replayed, done = await _until_replayed(client)
    assert [f.seq for f in replayed if isinstance(f, EventFrame)] == list(range(1, 26))
    assert done.count == 25
    await client.close()


@pytest.mark.asyncio
async def test_a_frame_over_the_limit_closes_with_1009(
    gateway: Gateway, token_for: TokenFor, wallet_a: str
) -> None:
    client, _ = await device(gateway.url, token_for(wallet_a))
    await client.send("x" * (MAX_FRAME_BYTES + 1))
    code, _reason, _frames = await client.closed()
    assert code == CloseCode.TOO_BIG


@pytest.mark.asyncio
async def test_the_log_never_contains_tokens_or_keys(
    gateway: Gateway,
    gateway_secrets: GatewaySecrets,
    token_for: TokenFor,
    wallet_a: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    good, bad = token_for(wallet_a), issue_token("y" * 64, wallet_a, timedelta(hours=1))
    client, _ = await device(gateway.url, good)
    await client.close()
    refused = await RawClient.open(gateway.url)
    await refused.send(Auth(token=bad))
    await refusal(refused)
    for key in (gateway_secrets.publish_key, "a-guessed-key"):
        publisher = await RawClient.open(gateway.url)
        await publisher.send(PublisherAuth(key=key))
        if key == gateway_secrets.publish_key:
            await publisher.recv()
            await publisher.close()
        else:
            await refusal(publisher)
    await gateway.close()
    # Everything the gateway logs, its websockets internals at DEBUG included.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("seller_notifier"))
    assert "device connected" in text and "publisher refused" in text
    for secret in (good, bad, gateway_secrets.publish_key, "a-guessed-key"):
        assert secret not in text
