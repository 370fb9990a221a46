"""Frames received back to back: stored in one transaction, shown only once committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.client.session import ClientSession, Delivered, Ignored, ResyncNeeded, SessionEvent
from app.protocol import EventFrame, decode_client_frame
from app.protocol.frames import Auth
from app.store import ClientStore, StoreError

if TYPE_CHECKING:
    from conftest import Wire


def delivered(events: list[SessionEvent]) -> list[int]:
    return [e.frame.seq for e in events if isinstance(e, Delivered)]


def signed_in(session: ClientSession, wire: Wire, wallet: str, head: int) -> None:
    session.connection_made()
    session.receive(wire.hello())
    session.frames_to_send()
    session.receive(wire.ok(wallet, head=head))


def next_since(session: ClientSession, wire: Wire) -> int | None:
    session.connection_made()
    session.receive(wire.hello())
    (auth,) = [decode_client_frame(text) for text in session.frames_to_send()]
    assert isinstance(auth, Auth)
    return auth.since


class CommitFails(ClientStore):
    """A store whose batches fail at the end, as a full disk would fail the commit."""

    fail = True

    @contextmanager
    def batch(self) -> Iterator[None]:
        with super().batch():
            yield
            if self.fail:
                raise StoreError("disk full (simulated)")


def test_a_burst_is_stored_and_delivered_in_order_with_its_duplicates_dropped(
    tmp_path: Path, wire: Wire, wallet_a: str
) -> None:
    store = ClientStore(tmp_path / "client.sqlite3")
    session = ClientSession("t", since=0, store=store)
    signed_in(session, wire, wallet_a, head=5)

    events = session.receive_many(
        [
            wire.event(wallet_a, 1, "order-1"),
            wire.event(wallet_a, 2, "order-2"),
            wire.event(wallet_a, 3, "order-1"),  # the same id again, in the same burst
            wire.event(wallet_a, 4, "order-4"),
            wire.replayed(wallet_a, head=4, count=4),
        ]
    )

    assert delivered(events) == [1, 2, 4]
    assert any(isinstance(e, Ignored) and "duplicate" in e.reason for e in events)
    assert [f.seq for f in reversed(store.recent())] == [1, 2, 4]
    # The position is the last seq of the burst, stored with it.
    assert store.last_seq(wallet_a) == 4
    assert next_since(session, wire) == 4
    store.close()


def test_a_burst_whose_commit_fails_delivers_nothing_and_resumes_from_the_store(
    tmp_path: Path, wire: Wire, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = CommitFails(tmp_path / "client.sqlite3")
    session = ClientSession("t", since=0, store=store)
    signed_in(session, wire, wallet_a, head=3)
    store.fail = False
    session.receive_many([wire.event(wallet_a, 1), wire.event(wallet_a, 2)])
    store.fail = True

    events = session.receive_many(
        [wire.event(wallet_a, 3), wire.event(wallet_a, 4), wire.event(wallet_a, 5)]
    )

    assert delivered(events) == []
    assert events == [ResyncNeeded(wallet_a, 2, events[0].reason)]  # type: ignore[union-attr]
    assert "disk full" in caplog.text
    assert store.count() == 2 and store.last_seq(wallet_a) == 2
    # Nothing of the failed burst is remembered: the next connection asks for it again,
    # and it is delivered then.
    assert next_since(session, wire) == 2
    store.fail = False
    session.receive(wire.ok(wallet_a, head=5))
    again = session.receive_many(
        [wire.event(wallet_a, 3), wire.event(wallet_a, 4), wire.event(wallet_a, 5)]
    )
    assert delivered(again) == [3, 4, 5]
    assert store.count() == 5
    store.close()


def test_a_burst_stops_at_the_frame_that_ends_the_connection(
    tmp_path: Path, wire: Wire, wallet_a: str
) -> None:
    store = ClientStore(tmp_path / "client.sqlite3")
    session = ClientSession("t", since=0, store=store)
    signed_in(session, wire, wallet_a, head=9)

    events = session.receive_many(
        [
            wire.event(wallet_a, 1),
            wire.event(wallet_a, 3),  # 2 is missing: a resync is asked for
            wire.hello(),  # never read: the connection ends first
            wire.event(wallet_a, 2),
        ]
    )

    assert delivered(events) == [1, 3]  # both stored, so both shown
    assert isinstance(events[-1], ResyncNeeded)
    assert store.last_seq(wallet_a) == 1  # the hole is fetched on the next connection
    store.close()


def test_a_batch_commits_its_writes_together_or_not_at_all(
    tmp_path: Path, wire: Wire, wallet_a: str
) -> None:
    def frame(seq: int, event_id: str | None = None) -> EventFrame:
        return wire.frame(wallet_a, seq, event_id)

    store = ClientStore(tmp_path / "client.sqlite3")
    with store.batch():
        assert store.record(frame(1))
        assert not store.record(frame(2, "evt-1"))  # a duplicate id
        store.record(frame(3), position=3)
        with pytest.raises(RuntimeError, match="nest"), store.batch():
            pass
    assert store.count() == 2 and store.last_seq(wallet_a) == 3

    with pytest.raises(ValueError, match="boom"), store.batch():
        store.record(frame(4))
        raise ValueError("boom")
    assert store.count() == 2 and store.last_seq(wallet_a) == 3
    # The store is usable on its own again afterwards.
    assert store.record(frame(4))
    store.close()
