"""The append queue both event logs share: batching, order, and failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from gateway_support import order

from app.gateway.bus.group_commit import AppendRequest, GroupCommitQueue
from app.gateway.log import Appended, EventLogError


@pytest.mark.asyncio
async def test_appends_arriving_together_share_a_batch_and_keep_order(wallet_a: str) -> None:
    batches: list[list[str]] = []

    async def write(batch: list[AppendRequest]) -> list[Appended | BaseException]:
        batches.append([r.event_json for r in batch])
        await asyncio.sleep(0)
        return [
            Appended(
                wallet_a,
                len(sum(batches, [])) - len(batch) + i + 1,
                f"id{i}",
                datetime.now(UTC),
                False,
            )
            for i in range(len(batch))
        ]

    queue = GroupCommitQueue(write, where="in test", task_name="t")
    results = await asyncio.gather(*(queue.append(wallet_a, order(n), None) for n in range(5)))
    assert [r.seq for r in results] == [1, 2, 3, 4, 5]
    assert len(batches) == 1 and len(batches[0]) == 5


@pytest.mark.asyncio
async def test_a_failed_batch_fails_each_append_and_the_next_batch_still_runs(
    wallet_a: str,
) -> None:
    calls = 0

    async def write(batch: list[AppendRequest]) -> list[Appended | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        return [Appended(wallet_a, 1, "x", datetime.now(UTC), False) for _ in batch]

    queue = GroupCommitQueue(write, where="in test", task_name="t")
    with pytest.raises(EventLogError, match="could not store the event in test: disk full"):
        await queue.append(wallet_a, order(1), None)
    assert (await queue.append(wallet_a, order(2), None)).seq == 1
    await queue.drain()
