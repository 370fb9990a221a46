"""SellerClient against a real gateway on 127.0.0.1 (and, for odd gateways, a scripted one)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from client_support import authenticate, scripted_gateway
from websockets.asyncio.server import ServerConnection

from app.client import (
    AuthRefused,
    Backoff,
    ConnectionState,
    ConnectionStatus,
    GapDetected,
    Heartbeat,
    LinkQuality,
    ReplayDone,
    SellerClient,
)
from app.client.refusals import TOO_MANY_DEVICES
from app.gateway.server import SHUTDOWN_RETRY_AFTER
from app.gateway.tokens import issue_token
from app.protocol import (
    EventFrame,
    NewOrder,
    PaymentReceived,
    ReviewReceived,
)
from app.store import ClientStore

if TYPE_CHECKING:
    from conftest import GatewayHarness, Inbox, Waits, Wire

NOW = Backoff(initial=0, maximum=0)
"""Retry at once: tests never sleep through a backoff they do not look at."""


def connected(status: ConnectionStatus) -> bool:
    return status.state is ConnectionState.CONNECTED


def payment(order_id: str) -> PaymentReceived:
    return PaymentReceived(
        amount=Decimal("0.0125"),
        currency="ETH",
        transaction_hash="0x" + "ab" * 32,
        order_id=order_id,
    )


def review(rating: int) -> ReviewReceived:
    return ReviewReceived(review_id=f"R-{rating}", rating=rating)


# --- live delivery ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_live_events_reach_the_typed_and_catch_all_callbacks(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str,
) -> None:  # fmt: skip
    client = SellerClient(gateway.url, gateway.token(wallet_a), backoff=NOW)
    orders, payments, everything = make_inbox(), make_inbox(), make_inbox()
    client.on_new_order(lambda order, frame: orders.put((order, frame.seq)))
    client.on_payment_received(lambda paid, frame: payments.put(paid.order_id))
    client.on("*", lambda frame: everything.put(frame.event.type))

    async with waits.running(client):
        status = await waits.status(client, connected, "the client to connect")
        await gateway.publish(wallet_a, wire.new_order("ORD-1", "41.50"))
        await gateway.publish(wallet_a, payment("ORD-1"))

        assert await everything.until(2, "events") == ["new_order", "payment_received"]
        [(order, seq)] = await orders.until(1, "orders")
        assert await payments.until(1, "payments") == ["ORD-1"]

    assert status.wallet == wallet_a
    assert status.reason == f"connected as {wallet_a} (head 0)"
    assert isinstance(order, NewOrder) and order.total == Decimal("41.50") and seq == 1
    assert client.status.state is ConnectionState.STOPPED
    assert client.status.last_event_at is not None


@pytest.mark.asyncio
async def test_unsubscribing_stops_only_that_callback(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str,
) -> None:  # fmt: skip
    client = SellerClient(gateway.url, gateway.token(wallet_a), backoff=NOW)
    kept, dropped = make_inbox(), make_inbox()
    client.on_new_order(lambda order, frame: kept.put(order.order_id))
    unsubscribe = client.on_new_order(lambda order, frame: dropped.put(order.order_id))

    async with waits.running(client):
        await waits.status(client, connected, "the client to connect")
        await gateway.publish(wallet_a, wire.new_order("ORD-1"))
        await kept.until(1, "the first order")
        unsubscribe()
        unsubscribe()  # harmless twice
        await gateway.publish(wallet_a, wire.new_order("ORD-2"))
        await kept.until(2, "the second order")

    assert kept.items == ["ORD-1", "ORD-2"]
    assert dropped.items == ["ORD-1"]


@pytest.mark.asyncio
async def test_a_callback_that_raises_does_not_stop_delivery(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    client = SellerClient(gateway.url, gateway.token(wallet_a), backoff=NOW)
    after = make_inbox()

    def broken(order: NewOrder, frame: EventFrame) -> None:
        raise RuntimeError(f"widget exploded on {order.order_id}")

    client.on_new_order(broken)
    client.on_new_order(lambda order, frame: after.put(order.order_id))
    client.on_status(lambda status: 1 / 0)  # a broken status listener too

    with caplog.at_level(logging.ERROR, "seller_notifier.client"):
        async with waits.running(client):
            await waits.status(client, connected, "the client to connect")
            for order_id in ("ORD-1", "ORD-2"):
                await gateway.publish(wallet_a, wire.new_order(order_id))
            assert await after.until(2, "orders") == ["ORD-1", "ORD-2"]
            assert client.status.state is ConnectionState.CONNECTED

    assert "widget exploded on ORD-1" in caplog.text
    assert "widget exploded on ORD-2" in caplog.text


@pytest.mark.asyncio
async def test_async_callbacks_are_run(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str,
) -> None:  # fmt: skip
    client = SellerClient(gateway.url, gateway.token(wallet_a), backoff=NOW)
    seen = make_inbox()

    async def slow_consumer(frame: EventFrame) -> None:
        await asyncio.sleep(0)
        seen.put(frame.seq)

    client.on("new_order", slow_consumer)
    async with waits.running(client):
        await waits.status(client, connected, "the client to connect")
        await gateway.publish(wallet_a, wire.new_order("ORD-1"))
        assert await seen.until(1, "the order") == [1]


# --- resuming ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_gateway_restart_loses_nothing_and_repeats_nothing(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str, tmp_path: Path,
) -> None:  # fmt: skip
    store = ClientStore(tmp_path / "client.sqlite3")
    client = SellerClient(gateway.url, gateway.token(wallet_a), store=store, backoff=NOW)
    received, replays = make_inbox(), make_inbox()
    client.on("*", lambda frame: received.put((frame.seq, frame.event.order_id)))  # type: ignore[union-attr]
    client.on_replay_done(replays.put)

    async with waits.running(client):
        await waits.status(client, connected, "the first connection")
        for n in (1, 2):
            await gateway.publish(wallet_a, wire.new_order(f"ORD-{n}"))
        await received.until(2, "the first events")

        await gateway.stop()
        down = await waits.status(
            client, lambda s: s.state is ConnectionState.BACKING_OFF, "the client to notice"
        )
        # Published while the gateway is down: only its log has them.
        for n in (3, 4):
            await gateway.publish(wallet_a, wire.new_order(f"ORD-{n}"))
        await gateway.restart()

        [done] = await replays.until(1, "the replay after the restart")
        await gateway.publish(wallet_a, wire.new_order("ORD-5"))
        await received.until(5, "every event")

    assert received.items == [(n, f"ORD-{n}") for n in range(1, 6)]
    assert done == ReplayDone(wallet_a, 4, 2)
    assert down.reason.startswith(f"gateway at {gateway.url} is shutting down; retrying in")
    assert down.next_attempt_at is not None
    # Even with a zero backoff, the gateway's "retry after 1s" is waited out.
    waited = float(down.reason.rsplit("retrying in ", 1)[1].removesuffix(" s"))
    assert waited >= SHUTDOWN_RETRY_AFTER - 0.1
    assert client.status.reconnects == 1
    assert store.count() == 5 and store.last_seq(wallet_a) == 5
    store.close()


@pytest.mark.asyncio
async def test_a_restarted_app_gets_only_what_it_missed(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str, tmp_path: Path,
) -> None:  # fmt: skip
    path = tmp_path / "client.sqlite3"
    token = gateway.token(wallet_a)
    with ClientStore(path) as store:
        first = SellerClient(gateway.url, token, store=store, backoff=NOW)
        got = make_inbox()
        first.on("*", lambda frame: got.put(frame.seq))
        async with waits.running(first):
            await waits.status(first, connected, "the first run to connect")
            for n in (1, 2):
                await gateway.publish(wallet_a, wire.new_order(f"ORD-{n}"))
            await got.until(2, "the first run's events")

    for n in (3, 4):  # while the app is closed
        await gateway.publish(wallet_a, wire.new_order(f"ORD-{n}"))

    with ClientStore(path) as store:
        second = SellerClient(gateway.url, token, store=store, backoff=NOW)
        missed = make_inbox()
        second.on("*", lambda frame: missed.put(frame.seq))
        async with waits.running(second):
            assert await missed.until(2, "the missed events") == [3, 4]
            assert second.since == 4
        assert store.count() == 4


@pytest.mark.asyncio
async def test_events_the_gateway_no_longer_has_are_reported_as_a_gap(
    make_gateway: Callable[..., Awaitable[GatewayHarness]], waits: Waits, wire: Wire,
    make_inbox: Callable[[], Inbox[Any]], wallet_a: str,
) -> None:  # fmt: skip
    small = await make_gateway(retain=2)
    for n in range(1, 6):
        await small.publish(wallet_a, wire.new_order(f"ORD-{n}"))
    client = SellerClient(small.url, small.token(wallet_a), since=0, backoff=NOW)
    gaps, events = make_inbox(), make_inbox()
    client.on_gap(gaps.put)
    client.on("*", lambda frame: events.put(frame.seq))

    async with waits.running(client):
        assert await gaps.until(1, "the gap") == [GapDetected(wallet_a, 1, 3)]
        assert await events.until(2, "the retained events") == [4, 5]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_expired_token_stops_the_client_with_a_readable_reason(
    gateway: GatewayHarness, waits: Waits, wallet_a: str
) -> None:
    client = SellerClient(gateway.url, gateway.expired_token(wallet_a), backoff=NOW)
    states = []
    client.on_status(lambda status: states.append(status.state))

    with pytest.raises(AuthRefused) as refused:
        await waits.within(client.run(), "the refusal")

    assert refused.value.message.startswith("token refused: token expired on ")
    assert client.status.state is ConnectionState.STOPPED
    assert client.status.reason == refused.value.message
    assert ConnectionState.BACKING_OFF not in states  # no pointless retries


@pytest.mark.asyncio
async def test_a_token_from_another_gateway_is_refused(
    gateway: GatewayHarness, waits: Waits, wallet_a: str
) -> None:
    foreign = issue_token("another-gateway-secret-" * 3, wallet_a, timedelta(hours=1))
    client = SellerClient(gateway.url, foreign, backoff=NOW)

    with pytest.raises(AuthRefused, match="^token refused: token signature is not valid"):
        await waits.within(client.run(), "the refusal")


@pytest.mark.asyncio
async def test_a_token_for_another_wallet_is_refused(
    gateway: GatewayHarness, waits: Waits, wallet_a: str, wallet_b: str
) -> None:
    client = SellerClient(gateway.url, gateway.token(wallet_a), wallet=wallet_b, backoff=NOW)

    with pytest.raises(AuthRefused) as refused:
        await waits.within(client.run(), "the refusal")

    assert refused.value.message == f"this token is for wallet {wallet_a}, not {wallet_b}"
    assert client.status.state is ConnectionState.STOPPED


# --- unreachable, backoff and stop -----------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.asyncio
async def test_an_unreachable_gateway_is_retried_with_backoff_until_stopped(
    waits: Waits,
) -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    # A long backoff: stop() must cut the wait short rather than sit it out.
    client = SellerClient(
        url, "token", backoff=Backoff(initial=600, maximum=600), rng=random.Random(3)
    )
    before = datetime.now(UTC)
    task = asyncio.create_task(client.run())

    status = await waits.status(
        client, lambda s: s.state is ConnectionState.BACKING_OFF, "the first failure"
    )
    await waits.within(client.stop(), "stop() during the backoff")

    assert task.done() and task.exception() is None
    assert status.reason.startswith(
        f"gateway unreachable at {url}: connection refused; retrying in"
    )
    assert status.next_attempt_at is not None and status.next_attempt_at > before
    assert client.status.state is ConnectionState.STOPPED
    assert client.status.next_attempt_at is None


@pytest.mark.asyncio
async def test_stop_before_run_makes_run_return_at_once(gateway: GatewayHarness, waits: Waits,
                                                        wallet_a: str) -> None:  # fmt: skip
    client = SellerClient(gateway.url, gateway.token(wallet_a), backoff=NOW)

    await client.stop()
    await waits.within(client.run(), "run() to return")

    assert client.status.state is ConnectionState.STOPPED


@pytest.mark.asyncio
async def test_latency_is_reported_after_pongs(
    gateway: GatewayHarness, waits: Waits, wallet_a: str
) -> None:
    client = SellerClient(
        gateway.url,
        gateway.token(wallet_a),
        backoff=NOW,
        heartbeat=Heartbeat(interval=0.05),
    )
    async with waits.running(client):
        status = await waits.status(
            client,
            lambda s: connected(s) and s.latency is not None,
            "a latency measurement while connected",
        )

    assert status.latency is not None and status.latency >= 0
    assert status.quality in set(LinkQuality)
    # Off line, nothing is measured.
    assert client.status.latency is None and client.status.quality is None


def test_a_url_that_is_not_a_websocket_url_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="is not a gateway URL"):
        SellerClient("http://example.org", "token")


# --- gateways that misbehave (scripted with websockets itself) -------------------------------

@pytest.mark.asyncio
async def test_a_skipped_seq_makes_the_client_reconnect_for_the_missing_events(
    waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]], wallet_a: str
) -> None:
    asked_since = make_inbox()

    async def script(ws: ServerConnection, nth: int) -> None:
        auth = await authenticate(ws, wire, wallet_a, head=3)
        asked_since.put(auth.since)
        if nth == 1:
            await ws.send(wire.event(wallet_a, 1))
            await ws.send(wire.event(wallet_a, 3))  # 2 went missing
        else:
            for seq in range(auth.since + 1, 4):  # type: ignore[operator]
                await ws.send(wire.event(wallet_a, seq))
            await ws.send(wire.replayed(wallet_a, head=3, count=3 - auth.since))  # type: ignore[operator]
        await ws.wait_closed()

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", since=0, backoff=NOW)
        seqs = make_inbox()
        client.on("*", lambda frame: seqs.put(frame.seq))
        async with waits.running(client):
            await seqs.until(3, "all three events")
            assert await asked_since.until(2, "two connections") == [0, 1]

    assert sorted(seqs.items) == [1, 2, 3] and len(seqs.items) == 3


@pytest.mark.asyncio
async def test_a_permanent_close_code_without_an_error_frame_stops_the_client(
    waits: Waits, wire: Wire, wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await ws.send(wire.hello())
        await ws.recv()
        await ws.close(4002, "token expired on 2026-01-01 00:00 UTC")

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", backoff=NOW)
        with pytest.raises(AuthRefused, match="^token refused: token expired on 2026-01-01"):
            await waits.within(client.run(), "the refusal")


@pytest.mark.asyncio
async def test_a_busy_gateway_is_left_alone_for_the_time_it_asks(
    waits: Waits, wire: Wire, wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0)
        await ws.send(wire.error("too_many_devices", "3 devices max", fatal=True, retry_after=7))
        await ws.close(1013, "try again later")

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", backoff=NOW)
        async with waits.running(client):
            status = await waits.status(
                client, lambda s: s.state is ConnectionState.BACKING_OFF, "the backoff"
            )

    assert status.reason == (
        f"gateway at {url} asks to wait: {TOO_MANY_DEVICES}; retrying in 7.0 s"
    )


@pytest.mark.parametrize(
    ("close", "expected"),
    [
        ((1001, "server shutdown; retry after 0.3s"), "is shutting down; retrying in 0.3 s"),
        (
            (1011, "internal error"),
            "closed the connection (1011: internal error); retrying in 0.0 s",
        ),
        ((1012, ""), "closed the connection (1012); retrying in 0.0 s"),
        ((4400, "bad frame"), "closed the connection (4400: bad frame); retrying in 0.0 s"),
    ],
)
@pytest.mark.asyncio
async def test_transient_closes_are_retried(
    waits: Waits, wire: Wire, wallet_a: str, close: tuple[int, str], expected: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0)
        await ws.close(*close)

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", backoff=NOW)
        async with waits.running(client):
            status = await waits.status(
                client, lambda s: s.state is ConnectionState.BACKING_OFF, "the backoff"
            )
            again = await waits.status(client, lambda s: s.reconnects >= 1, "a second attempt")

    assert status.reason == f"gateway at {url} {expected}"
    assert again.reconnects >= 1


@pytest.mark.asyncio
async def test_a_gateway_that_stops_answering_pings_is_left(
    waits: Waits, wire: Wire, wallet_a: str
) -> None:
    release = asyncio.Event()

    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0)
        # Freeze this connection: no reads, so no pongs.
        ws.transport.pause_reading()
        await release.wait()
        ws.transport.abort()

    async with scripted_gateway(script) as url:
        client = SellerClient(
            url, "token", backoff=NOW, heartbeat=Heartbeat(interval=0.2)
        )
        try:
            async with waits.running(client):
                status = await waits.status(
                    client, lambda s: s.state is ConnectionState.BACKING_OFF, "the dead link"
                )
        finally:
            release.set()

    assert status.reason.startswith(f"gateway at {url} stopped answering pings")


@pytest.mark.asyncio
async def test_garbage_from_the_gateway_does_not_break_the_connection(
    waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]], wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0)
        await ws.send("}{ definitely not json")
        await ws.send(json.dumps({"type": "future_frame", "data": [1, 2]}))
        await ws.send(wire.event(wallet_a, 1))
        await ws.wait_closed()

    async with scripted_gateway(script) as url:
        client = SellerClient(url, "token", backoff=NOW)
        seqs = make_inbox()
        client.on("*", lambda frame: seqs.put(frame.seq))
        async with waits.running(client):
            assert await seqs.until(1, "the good event") == [1]
            assert client.status.reconnects == 0


class CeilingRecorder(random.Random):
    """An rng that records each backoff ceiling it is asked to draw under, and draws 0."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return 0.0


@pytest.mark.asyncio
async def test_the_backoff_grows_on_failures_and_resets_after_a_useful_connection(
    waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]], wallet_a: str
) -> None:
    async def script(ws: ServerConnection, nth: int) -> None:
        await authenticate(ws, wire, wallet_a, head=0 if nth <= 4 else 1)
        if nth == 4:  # the only connection that brings an event
            await ws.send(wire.event(wallet_a, 1))
        await ws.close(1011, "internal error")

    recorder = CeilingRecorder()
    async with scripted_gateway(script) as url:
        client = SellerClient(
            url, "token", backoff=Backoff(initial=0.001, maximum=10, factor=10), rng=recorder
        )
        async with waits.running(client):
            await waits.status(client, lambda s: s.reconnects >= 5, "five reconnects")

    assert recorder.ceilings[:5] == pytest.approx([0.001, 0.01, 0.1, 0.001, 0.01])
