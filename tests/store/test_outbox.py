"""The offline outbox: durable, ordered, bounded, with idempotency keys and a time to live."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.store import ClientStore, StoreError
from app.store.outbox import Outbox


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "client.sqlite3"
    ClientStore(path).close()  # the event store creates the file
    return path


def test_messages_come_out_in_the_order_they_were_queued_and_survive_a_restart(
    db: Path,
) -> None:
    with Outbox(db) as outbox:
        outbox.put("read_mark", {"seq": 3}, key="a")
        outbox.put("preferences", {"sound": False}, key="b")
        outbox.put("read_mark", {"seq": 9}, key="c")

    with Outbox(db) as reopened:
        pending = reopened.pending()

    assert [(m.key, m.kind, m.body) for m in pending] == [
        ("a", "read_mark", {"seq": 3}),
        ("b", "preferences", {"sound": False}),
        ("c", "read_mark", {"seq": 9}),
    ]


def test_a_key_queued_twice_is_kept_once(db: Path) -> None:
    with Outbox(db) as outbox:
        first = outbox.put("read_mark", {"seq": 3}, key="same")
        again = outbox.put("read_mark", {"seq": 4}, key="same")

        assert again == first
        assert [m.body for m in outbox.pending()] == [{"seq": 3}]


def test_a_newer_message_in_the_same_slot_replaces_the_older_and_goes_last(db: Path) -> None:
    with Outbox(db) as outbox:
        outbox.put("read_mark", {"seq": 3}, slot="read")
        outbox.put("preferences", {"sound": True})
        newest = outbox.put("read_mark", {"seq": 7}, slot="read")

        assert [(m.kind, m.body) for m in outbox.pending()] == [
            ("preferences", {"sound": True}),
            ("read_mark", {"seq": 7}),
        ]
        assert outbox.pending()[-1].key == newest.key


def test_delivered_messages_are_forgotten(db: Path) -> None:
    with Outbox(db) as outbox:
        message = outbox.put("read_mark", {"seq": 3})

        assert outbox.remove(message.key)
        assert not outbox.remove(message.key)
        assert outbox.pending() == [] and len(outbox) == 0


def test_the_oldest_are_dropped_beyond_the_limit_counted_and_logged(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Outbox(db, limit=1000) as outbox, caplog.at_level(logging.WARNING):
        for number in range(1005):
            outbox.put("read_mark", {"seq": number})

        pending = outbox.pending()
        dropped = outbox.dropped

    assert len(pending) == 1000
    assert [m.body["seq"] for m in pending[:2]] == [5, 6]
    assert pending[-1].body["seq"] == 1004
    assert dropped == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5
    assert warnings[-1] == (
        "outbox full (1000 messages): dropped the 1 oldest (read_mark); 5 dropped in all"
    )
    with Outbox(db) as reopened:
        assert reopened.dropped == 5  # the count survives a restart


def test_expired_messages_are_dropped_not_sent_late(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with Outbox(db, ttl=timedelta(hours=1), clock=clock) as outbox:
        outbox.put("read_mark", {"seq": 1})
        outbox.put("preferences", {"sound": False}, ttl=timedelta(days=2))
        clock.now += timedelta(hours=3)

        with caplog.at_level(logging.WARNING):
            pending = outbox.pending()

        assert [m.kind for m in pending] == ["preferences"]
        assert outbox.expired == 1
    assert "1 message(s) expired before a connection came back (read_mark)" in caplog.text


def test_bad_arguments_are_refused(db: Path) -> None:
    with pytest.raises(ValueError):
        Outbox(db, limit=0)
    with pytest.raises(ValueError):
        Outbox(db, ttl=timedelta(0))
    with Outbox(db) as outbox, pytest.raises(ValueError):
        outbox.put("read_mark", {}, key="k" * 65)


def test_a_closed_outbox_says_so(db: Path) -> None:
    outbox = Outbox(db)
    outbox.close()
    outbox.close()
    with pytest.raises(StoreError, match="closed"):
        outbox.pending()


def test_the_event_store_still_opens_the_file_afterwards(db: Path) -> None:
    with Outbox(db) as outbox:
        outbox.put("read_mark", {"seq": 1})
    with ClientStore(db) as store:
        assert store.count() == 0
