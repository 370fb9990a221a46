"""Bad input from the gateway: logged with wallet and seq, nothing lost, stream resynchronised."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import pytest

from app.client.session import (
    UNREADABLE_ATTEMPTS,
    ClientSession,
    Delivered,
    GapDetected,
    Ignored,
    ReplayDone,
    ResyncNeeded,
    SessionEvent,
)
from app.store import ClientStore
from app.store.gaps import GapLog

if TYPE_CHECKING:
    from conftest import Wire


def delivered(events: list[SessionEvent]) -> list[int]:
    return [e.frame.seq for e in events if isinstance(e, Delivered)]


def resyncs(events: list[SessionEvent]) -> list[ResyncNeeded]:
    return [e for e in events if isinstance(e, ResyncNeeded)]


def replay_from(session: ClientSession, wire: Wire, wallet: str, head: int) -> None:
    """A new connection that resumes from the session's position."""
    session.connection_made()
    session.receive(wire.hello())
    session.frames_to_send()
    session.receive(wire.ok(wallet, head=head))


def damaged(wire: Wire, wallet: str, seq: int) -> str:
    """An event frame whose envelope is broken (its time is not a time): it cannot be kept."""
    frame = json.loads(wire.event(wallet, seq))
    frame["ts"] = "yesterday-ish"
    return json.dumps(frame)


def test_a_replayed_id_with_different_content_keeps_the_first_copy_and_says_so(
    wire: Wire, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = ClientStore(":memory:")
    session = ClientSession("t", store=store, since=0)
    replay_from(session, wire, wallet_a, head=2)
    session.receive(wire.event(wallet_a, 1, "ord-1", wire.new_order("ORD-1", "41.50")))

    with caplog.at_level(logging.WARNING, logger="seller_notifier.client"):
        events = session.receive(wire.event(wallet_a, 2, "ord-1", wire.new_order("ORD-1", "99")))

    assert delivered(events) == []
    assert resyncs(events) == []  # the stream itself is whole
    [kept] = store.recent(10)
    assert kept.event.total == 41.50  # type: ignore[union-attr]
    message = caplog.records[0].getMessage()
    assert f"event 2 of {wallet_a}" in message and "different content" in message
    assert session.since == 2


def test_an_unreadable_event_mid_replay_is_fetched_again_without_repeating_the_others(
    wire: Wire, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = ClientStore(":memory:")
    session = ClientSession("t", store=store, since=0)
    replay_from(session, wire, wallet_a, head=5)
    events: list[SessionEvent] = []
    with caplog.at_level(logging.WARNING, logger="seller_notifier.client"):
        for text in [wire.event(wallet_a, 1), wire.event(wallet_a, 2), damaged(wire, wallet_a, 3),
                     wire.event(wallet_a, 4), wire.event(wallet_a, 5)]:  # fmt: skip
            events += session.receive(text)

    assert delivered(events) == [1, 2, 4, 5]  # nothing that arrived whole is held back
    assert resyncs(events) == [
        ResyncNeeded(wallet_a, 2, f"event 3 of {wallet_a} arrived unreadable")
    ]
    unusable = next(r.getMessage() for r in caplog.records if "unusable" in r.getMessage())
    assert wallet_a in unusable and "seq 3" in unusable

    replay_from(session, wire, wallet_a, head=5)
    again = [session.receive(wire.event(wallet_a, seq)) for seq in (3, 4, 5)]

    assert [delivered(e) for e in again] == [[3], [], []]
    assert session.since == 5
    assert sorted(frame.seq for frame in store.recent(10)) == [1, 2, 3, 4, 5]


def test_an_event_that_stays_unreadable_is_recorded_as_a_gap_and_the_stream_moves_on(
    wire: Wire, wallet_a: str
) -> None:
    store = ClientStore(":memory:")
    gaps = GapLog(":memory:")
    session = ClientSession("t", store=store, gaps=gaps, since=0)
    outcomes: list[list[SessionEvent]] = []
    for _ in range(UNREADABLE_ATTEMPTS):
        replay_from(session, wire, wallet_a, head=3)
        session.receive(wire.event(wallet_a, 1))
        outcomes.append(session.receive(damaged(wire, wallet_a, 2)))

    after = session.receive(wire.event(wallet_a, 3))

    assert [len(resyncs(o)) for o in outcomes] == [1] * (UNREADABLE_ATTEMPTS - 1) + [0]
    assert [e for e in outcomes[-1] if isinstance(e, GapDetected)] == [
        GapDetected(wallet_a, 2, 2, "arrived unreadable")
    ]
    assert delivered(after) == [3]
    assert session.since == 3
    [record] = gaps.recent()
    assert (record.from_seq, record.to_seq, record.reason) == (2, 2, "arrived unreadable")


def test_garbage_that_hides_the_last_event_of_a_replay_is_caught_at_its_end(
    wire: Wire, wallet_a: str
) -> None:
    session = ClientSession("t", since=0)
    replay_from(session, wire, wallet_a, head=3)
    session.receive(wire.event(wallet_a, 1))
    session.receive(wire.event(wallet_a, 2))
    garbage = session.receive("}{ not even json")

    done = session.receive(wire.replayed(wallet_a, head=3, count=3))

    assert [type(e) for e in garbage] == [Ignored]
    assert done[0] == ReplayDone(wallet_a, 3, 3)
    reason = f"the replay of {wallet_a} ended at 3 but events after 2 did not all arrive"
    assert resyncs(done) == [ResyncNeeded(wallet_a, 2, reason)]


def test_a_reported_gap_is_recorded(wire: Wire, wallet_a: str) -> None:
    gaps = GapLog(":memory:")
    session = ClientSession("t", since=3, gaps=gaps)
    replay_from(session, wire, wallet_a, head=12)

    events = session.receive(wire.gap(wallet_a, 4, 9))

    assert events == [GapDetected(wallet_a, 4, 9)]
    [record] = gaps.recent()
    assert (record.wallet, record.from_seq, record.to_seq) == (wallet_a, 4, 9)
    assert record.reason == "no longer kept by the gateway"
