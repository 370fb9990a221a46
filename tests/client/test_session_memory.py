"""A long-running session's memory stays flat: the store, not RAM, remembers old events."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

from app.client.session import ClientSession, Delivered, SessionEvent
from app.store import ClientStore

if TYPE_CHECKING:
    from conftest import Wire

BATCH = 100


def delivered(events: list[SessionEvent]) -> list[int]:
    return [e.frame.seq for e in events if isinstance(e, Delivered)]


def receive(session: ClientSession, wire: Wire, wallet: str, first: int, last: int) -> None:
    for start in range(first, last + 1, BATCH):
        seqs = range(start, min(start + BATCH, last + 1))
        events = session.receive_many([wire.event(wallet, seq, f"evt-{seq}") for seq in seqs])
        assert delivered(events) == list(seqs)


def traced_after_collect() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_does_not_grow_with_every_event_and_old_repeats_are_still_dropped(
    tmp_path: Path, wire: Wire, wallet_a: str
) -> None:
    store = ClientStore(tmp_path / "client.sqlite3")
    session = ClientSession("t", since=0, store=store)
    session.connection_made()
    session.receive(wire.hello())
    session.frames_to_send()
    session.receive(wire.ok(wallet_a, head=0))
    tracemalloc.start()
    try:
        receive(session, wire, wallet_a, 1, 1_500)  # every in-memory window is full now
        before = traced_after_collect()
        receive(session, wire, wallet_a, 1_501, 4_500)
        growth = traced_after_collect() - before
    finally:
        tracemalloc.stop()

    # Remembering each of these 3,000 ids in RAM would take ≥ 450 KiB (≈ 150 bytes each).
    assert growth < 150 * 1024, f"{growth:,} bytes more after 3,000 more events"
    # The first event, long out of every in-memory window, sent again: still not new.
    again = session.receive_many([wire.event(wallet_a, 4_501, "evt-1")])
    assert delivered(again) == []
    assert store.last_seq(wallet_a) == 4_501
    store.close()
