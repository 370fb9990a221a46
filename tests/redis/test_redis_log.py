"""The Redis event log against a real redis-server: atomic seqs and idempotency across
processes, retention by length and by age, batched reads, nonces, revocations and
notifications — the same contract as the SQLite log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gateway_support import DEADLINE, order
from redis.asyncio import Redis
from redis_process import RedisProcess, free_port

from app.gateway.backend import Revocation
from app.gateway.bus.redis import RedisEventLog
from app.gateway.log import EventLogError
from app.gateway.tokens import TokenClaims
from app.protocol import EventFrame, NewOrder

OpenLog = Callable[..., Awaitable[RedisEventLog]]


class Recorder:
    """A follower that keeps what it is told."""

    def __init__(self, wallets: set[str]) -> None:
        self.wallets = wallets
        self.frames: asyncio.Queue[EventFrame] = asyncio.Queue()
        self.revocations: asyncio.Queue[Revocation] = asyncio.Queue()
        self.lost = asyncio.Event()

    def wants(self, wallet: str, seq: int) -> bool:
        return wallet in self.wallets

    def appended(self, frame: EventFrame) -> None:
        self.frames.put_nowait(frame)

    def lost_track(self) -> None:
        self.lost.set()

    def revoked(self, revocation: Revocation) -> None:
        self.revocations.put_nowait(revocation)


@pytest.mark.asyncio
async def test_two_nodes_appending_at_once_get_one_gap_free_sequence(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    one, two = await open_log(redis_server.url), await open_log(redis_server.url)
    results = await asyncio.gather(
        *(log.append(wallet_a, order(n)) for n in range(100) for log in (one, two))
    )
    assert sorted(r.seq for r in results) == list(range(1, 201))
    # Each node's own appends (every other call) keep their call order.
    for node in (0, 1):
        mine = [r.seq for r in results[node::2]]
        assert mine == sorted(mine)
    assert await one.bounds(wallet_a) == (1, 200)


@pytest.mark.asyncio
async def test_an_idempotency_key_is_honoured_across_nodes(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str, wallet_b: str
) -> None:
    one, two = await open_log(redis_server.url), await open_log(redis_server.url)
    first = await one.append(wallet_a, order(1), key="evt-1")
    again = await two.append(wallet_a, order(1), key="evt-1")
    assert (first.seq, first.id, first.duplicate) == (1, "evt-1", False)
    assert (again.seq, again.id, again.ts, again.duplicate) == (1, "evt-1", first.ts, True)
    other_wallet = await two.append(wallet_b, order(1), key="evt-1")
    assert (other_wallet.seq, other_wallet.duplicate) == (1, False)
    [frame] = await two.read(wallet_a, 0, 10)
    assert (frame.seq, frame.id, frame.ts) == (1, "evt-1", first.ts)
    assert isinstance(frame.event, NewOrder) and frame.event.order_id == "ORD-1"


@pytest.mark.asyncio
async def test_reads_come_in_pages_after_a_seq(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    log = await open_log(redis_server.url)
    assert await log.bounds(wallet_a) == (0, 0)
    assert await log.read(wallet_a, 0, 10) == []
    for n in range(1, 11):
        await log.append(wallet_a, order(n))
    page = await log.read(wallet_a, 3, 4)
    assert [f.seq for f in page] == [4, 5, 6, 7]
    assert [f.event.order_id for f in page if isinstance(f.event, NewOrder)] == [
        "ORD-4", "ORD-5", "ORD-6", "ORD-7",
    ]  # fmt: skip
    assert await log.read(wallet_a, 10, 5) == []


@pytest.mark.asyncio
async def test_retention_by_length_drops_the_oldest_and_their_keys(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    log = await open_log(redis_server.url, retain=5)
    for n in range(1, 13):
        await log.append(wallet_a, order(n), key=f"k{n}")
    assert await log.bounds(wallet_a) == (8, 12)
    assert [f.seq for f in await log.read(wallet_a, 0, 100)] == [8, 9, 10, 11, 12]
    # A dropped event's key is forgotten (as in the SQLite log); a kept one is not.
    assert (await log.append(wallet_a, order(1), key="k1")).duplicate is False
    assert (await log.append(wallet_a, order(12), key="k12")).duplicate is True


@pytest.mark.asyncio
async def test_retention_by_age_drops_events_older_than_the_age(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    log = await open_log(redis_server.url, retain_age=timedelta(hours=1))
    # Two events from yesterday, written as an older gateway would have.
    raw = Redis.from_url(redis_server.url)
    yesterday = int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
    wire = json.dumps({"type": "new_order", "orderId": "OLD", "total": "1", "currency": "USD"})
    stream = f"sn:{{{wallet_a}}}:log"
    for seq in (1, 2):
        await raw.xadd(stream, {"i": f"old-{seq}", "t": yesterday, "e": wire, "k": "1"},
                       id=f"{seq}-0")  # fmt: skip
        await raw.hset(f"sn:{{{wallet_a}}}:ids", f"old-{seq}", f"{seq} {yesterday}")
    await raw.set(f"sn:{{{wallet_a}}}:head", 2)
    await raw.aclose()

    appended = await log.append(wallet_a, order(3))
    assert appended.seq == 3
    assert await log.bounds(wallet_a) == (3, 3)
    assert (await log.append(wallet_a, order(1), key="old-1")).duplicate is False


@pytest.mark.asyncio
async def test_a_redis_that_lost_its_scripts_still_takes_appends(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    log = await open_log(redis_server.url)
    await log.append(wallet_a, order(1))
    raw = Redis.from_url(redis_server.url)
    await raw.script_flush()
    await raw.aclose()
    results = await asyncio.gather(*(log.append(wallet_a, order(n)) for n in range(2, 6)))
    assert [r.seq for r in results] == [2, 3, 4, 5]


@pytest.mark.asyncio
async def test_a_nonce_is_used_once_across_nodes(
    redis_server: RedisProcess, open_log: OpenLog
) -> None:
    one, two = await open_log(redis_server.url), await open_log(redis_server.url)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    assert await one.use_nonce("n0nce123", expires) is True
    assert await two.use_nonce("n0nce123", expires) is False
    assert await two.use_nonce("other123", expires) is True


@pytest.mark.asyncio
async def test_revocations_are_stored_and_announced_to_every_node(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    writer, reader = await open_log(redis_server.url), await open_log(redis_server.url)
    recorder = Recorder(set())
    await reader.follow(recorder)
    now = datetime.now(UTC)
    claims = TokenClaims(wallet_a, "tok-1", now + timedelta(days=1), now - timedelta(hours=1))
    assert await reader.find_revocation(claims) is None

    await writer.revoke(Revocation(at=now, token_id="tok-1"))
    told = await asyncio.wait_for(recorder.revocations.get(), DEADLINE)
    assert told.token_id == "tok-1"
    found = await reader.find_revocation(claims)
    assert found is not None and found.token_id == "tok-1"

    await writer.revoke(Revocation(at=now, wallet=wallet_a))
    told = await asyncio.wait_for(recorder.revocations.get(), DEADLINE)
    assert told.wallet == wallet_a
    later = TokenClaims(wallet_a, "tok-2", now + timedelta(days=1), now + timedelta(seconds=1))
    assert await reader.find_revocation(later) is None
    earlier = TokenClaims(wallet_a, "tok-3", now + timedelta(days=1), now - timedelta(seconds=1))
    assert await reader.find_revocation(earlier) is not None
    # An older "revoke all" arriving late does not un-revoke anything.
    await writer.revoke(Revocation(at=now - timedelta(days=1), wallet=wallet_a))
    assert await reader.find_revocation(earlier) is not None


@pytest.mark.asyncio
async def test_an_append_on_one_node_is_announced_to_the_others(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str, wallet_b: str
) -> None:
    writer, reader = await open_log(redis_server.url), await open_log(redis_server.url)
    recorder = Recorder({wallet_a})
    await reader.follow(recorder)
    appended = await writer.append(wallet_b, order(0))
    appended = await writer.append(wallet_a, order(1), key="with key\nand a newline")
    frame = await asyncio.wait_for(recorder.frames.get(), DEADLINE)
    assert (frame.wallet, frame.seq, frame.id, frame.ts) == (
        wallet_a, 1, "with key\nand a newline", appended.ts,
    )  # fmt: skip
    assert isinstance(frame.event, NewOrder) and frame.event.order_id == "ORD-1"
    assert recorder.frames.empty()  # wallet B's event was not wanted


@pytest.mark.asyncio
async def test_without_redis_every_call_fails_loudly(
    redis_server: RedisProcess, open_log: OpenLog, wallet_a: str
) -> None:
    log = await open_log(redis_server.url)
    redis_server.stop()
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: log.append(wallet_a, order(1)),
        lambda: log.read(wallet_a, 0, 10),
        lambda: log.bounds(wallet_a),
        lambda: log.check(),
        lambda: log.use_nonce("abcdefgh", datetime.now(UTC) + timedelta(minutes=1)),
        lambda: log.revoke(Revocation(at=datetime.now(UTC), wallet=wallet_a)),
    ]
    for call in calls:
        with pytest.raises(EventLogError):
            await call()
    redis_server.start()
    assert (await log.append(wallet_a, order(1))).seq == 1


@pytest.mark.asyncio
async def test_an_unreachable_redis_is_one_clear_error(open_log: OpenLog) -> None:
    with pytest.raises(EventLogError, match=r"cannot use Redis at redis://127\.0\.0\.1:\d+/0"):
        await open_log(f"redis://127.0.0.1:{free_port()}/0")
