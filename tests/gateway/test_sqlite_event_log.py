"""The SQLite event log: gap-free per-wallet seqs, idempotency, retention, durability."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from gateway_support import order

from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.log import EventLogClosed
from app.protocol import NewOrder


@pytest.mark.asyncio
async def test_seqs_start_at_one_and_grow_per_wallet(
    db_path: Path, wallet_a: str, wallet_b: str
) -> None:
    log = SqliteEventLog(db_path)
    try:
        a = [await log.append(wallet_a, order(n)) for n in range(3)]
        b = await log.append(wallet_b, order(9))
        assert [x.seq for x in a] == [1, 2, 3]
        assert b.seq == 1
        assert len({x.id for x in a}) == 3
        assert await log.bounds(wallet_a) == (1, 3)
        assert await log.bounds(wallet_b) == (1, 1)
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_an_empty_wallet_has_no_bounds_and_no_events(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path)
    try:
        assert await log.bounds(wallet_a) == (0, 0)
        assert await log.read(wallet_a, 0, 10) == []
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_concurrent_appends_keep_call_order_without_gaps(
    db_path: Path, wallet_a: str
) -> None:
    log = SqliteEventLog(db_path)
    try:
        appended = await asyncio.gather(*(log.append(wallet_a, order(n)) for n in range(200)))
        assert [x.seq for x in appended] == list(range(1, 201))
        frames = await log.read(wallet_a, 0, 500)
        assert [f.seq for f in frames] == list(range(1, 201))
        # The order the calls were made is the order of the log.
        events = [f.event for f in frames]
        assert all(isinstance(e, NewOrder) for e in events)
        assert [e.order_id for e in events if isinstance(e, NewOrder)] == [
            f"ORD-{n}" for n in range(200)
        ]
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_read_pages_after_a_seq(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path)
    try:
        for n in range(10):
            await log.append(wallet_a, order(n, total=f"{n}.50"))
        page = await log.read(wallet_a, 4, 3)
        assert [f.seq for f in page] == [5, 6, 7]
        assert all(f.wallet == wallet_a for f in page)
        first = page[0].event
        assert isinstance(first, NewOrder)
        assert str(first.total) == "4.50"
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_a_repeated_key_returns_the_original(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path)
    try:
        first = await log.append(wallet_a, order(1), key="order-1-created")
        again = await log.append(wallet_a, order(1), key="order-1-created")
        assert first.id == "order-1-created"
        assert not first.duplicate
        assert again.duplicate
        assert (again.seq, again.id, again.ts) == (first.seq, first.id, first.ts)
        assert await log.bounds(wallet_a) == (1, 1)
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_a_key_repeated_within_one_commit_is_stored_once(
    db_path: Path, wallet_a: str
) -> None:
    log = SqliteEventLog(db_path)
    try:
        results = await asyncio.gather(
            *(log.append(wallet_a, order(1), key="same") for _ in range(5))
        )
        assert [r.duplicate for r in results] == [False, True, True, True, True]
        assert {r.seq for r in results} == {1}
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_keys_are_per_wallet(db_path: Path, wallet_a: str, wallet_b: str) -> None:
    log = SqliteEventLog(db_path)
    try:
        a = await log.append(wallet_a, order(1), key="k")
        b = await log.append(wallet_b, order(1), key="k")
        assert not a.duplicate and not b.duplicate
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_retention_keeps_the_newest_events(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path, retain=5)
    try:
        for n in range(12):
            await log.append(wallet_a, order(n))
        assert await log.bounds(wallet_a) == (8, 12)
        assert [f.seq for f in await log.read(wallet_a, 0, 100)] == [8, 9, 10, 11, 12]
        # Seqs keep counting from the head, never reused.
        assert (await log.append(wallet_a, order(99))).seq == 13
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_acknowledged_events_survive_reopening(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path)
    for n in range(7):
        await log.append(wallet_a, order(n), key=f"k{n}")
    await log.close()

    reopened = SqliteEventLog(db_path)
    try:
        assert await reopened.bounds(wallet_a) == (1, 7)
        assert (await reopened.append(wallet_a, order(3), key="k3")).duplicate
        assert (await reopened.append(wallet_a, order(8))).seq == 8
    finally:
        await reopened.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(("fsync", "level"), [(False, 1), (True, 2)])
async def test_wal_mode_and_the_chosen_sync_level(
    db_path: Path, wallet_a: str, fsync: bool, level: int
) -> None:
    # NORMAL (1) survives kill -9 of the gateway; FULL (2, `gateway --fsync`) power loss too.
    log = SqliteEventLog(db_path, fsync=fsync)
    await log.append(wallet_a, order(1))
    assert log._db.execute("PRAGMA synchronous").fetchone()[0] == level
    await log.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.asyncio
async def test_a_closed_log_refuses_work(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path)
    await log.close()
    await log.close()  # idempotent
    with pytest.raises(EventLogClosed):
        await log.append(wallet_a, order(1))
    with pytest.raises(EventLogClosed):
        await log.bounds(wallet_a)


@pytest.mark.asyncio
async def test_closing_finishes_appends_already_accepted(db_path: Path, wallet_a: str) -> None:
    log = SqliteEventLog(db_path)
    appends = [asyncio.ensure_future(log.append(wallet_a, order(n))) for n in range(20)]
    await asyncio.sleep(0)  # let the appends queue; closing must not drop them
    await log.close()
    results = await asyncio.gather(*appends)
    assert [r.seq for r in results] == list(range(1, 21))
