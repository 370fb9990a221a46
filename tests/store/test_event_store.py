"""The client's event store: real SQLite files in tmp_path."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.protocol import EventFrame, NewOrder, SellerEvent, UnknownEvent, parse_event
from app.store import SCHEMA_VERSION, ClientStore, StoreError


def frame(
    wallet: str, seq: int, event_id: str | None = None, event: SellerEvent | None = None
) -> EventFrame:
    return EventFrame(
        wallet=wallet,
        seq=seq,
        id=event_id or f"evt-{seq}",
        ts=datetime(2026, 11, 25, 10, 0, tzinfo=UTC) + timedelta(minutes=seq),
        event=event or NewOrder(order_id=f"ORD-{seq}", total=Decimal("9.99"), currency="EUR"),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "client.sqlite3"


def test_an_event_is_recorded_once_per_id(db: Path, wallet_a: str) -> None:
    with ClientStore(db) as store:
        assert store.record(frame(wallet_a, 1, "order-1")) is True
        assert store.record(frame(wallet_a, 1, "order-1")) is False
        assert store.record(frame(wallet_a, 2, "order-1")) is False

        assert store.count() == 1
        assert store.recent() == [frame(wallet_a, 1, "order-1")]


def test_the_same_id_for_two_wallets_is_two_events(wallet_a: str, wallet_b: str) -> None:
    with ClientStore(":memory:") as store:
        assert store.record(frame(wallet_a, 1, "shared-id"))
        assert store.record(frame(wallet_b, 1, "shared-id"))

        assert store.count() == 2
        assert store.count(wallet_a) == 1


def test_after_reopening_the_position_matches_the_newest_stored_event(
    db: Path, wallet_a: str, wallet_b: str
) -> None:
    with ClientStore(db) as store:
        for seq in (1, 2, 3):
            store.record(frame(wallet_a, seq))
        store.record(frame(wallet_b, 1))

    with ClientStore(db) as reopened:
        assert reopened.last_seq(wallet_a) == 3
        assert reopened.recent(1, wallet=wallet_a)[0].seq == 3
        assert reopened.last_seq(wallet_b) == 1
        assert reopened.latest_position() == (wallet_b, 1)


def test_a_failed_position_write_leaves_no_event_behind(db: Path, wallet_a: str) -> None:
    with ClientStore(db) as store:
        store.record(frame(wallet_a, 1))
        # Make the position update fail from outside, as a full disk would.
        other = sqlite3.connect(db)
        other.execute(
            "CREATE TRIGGER no_room BEFORE UPDATE ON positions "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        other.commit()
        other.close()

        with pytest.raises(StoreError, match="cannot save event evt-2 .*disk is full"):
            store.record(frame(wallet_a, 2))

        assert store.count() == 1
        assert store.last_seq(wallet_a) == 1


def test_a_position_behind_a_hole_is_kept_as_given(wallet_a: str) -> None:
    with ClientStore(":memory:") as store:
        store.record(frame(wallet_a, 1))
        store.record(frame(wallet_a, 4), position=1)

        assert store.last_seq(wallet_a) == 1
        assert store.count() == 2

        # A duplicate still moves the position: the hole was filled meanwhile.
        assert store.record(frame(wallet_a, 4), position=4) is False
        assert store.last_seq(wallet_a) == 4


def test_recent_lists_newest_first_with_a_limit_and_a_wallet(wallet_a: str, wallet_b: str) -> None:
    with ClientStore(":memory:") as store:
        for seq in (3, 1, 2):  # arrival order does not matter
            store.record(frame(wallet_a, seq))
        store.record(frame(wallet_b, 10))

        assert [f.seq for f in store.recent()] == [10, 3, 2, 1]
        assert [f.seq for f in store.recent(2)] == [10, 3]
        assert [f.seq for f in store.recent(wallet=wallet_a)] == [3, 2, 1]
        assert store.last_seq("0x0000000000000000000000000000000000000000") is None


def test_unknown_event_types_and_fields_round_trip(db: Path, wallet_a: str) -> None:
    unknown = parse_event({"type": "loyalty_points", "points": 120, "tiers": {"gold": [1, None]}})
    with_extra = parse_event(
        {"type": "new_order", "orderId": "A-1", "total": "5", "currency": "usd", "giftWrap": True}
    )
    with ClientStore(db) as store:
        store.record(frame(wallet_a, 1, event=unknown))
        store.record(frame(wallet_a, 2, event=with_extra))

    with ClientStore(db) as store:
        newest, oldest = store.recent()

    assert isinstance(oldest.event, UnknownEvent)
    assert oldest == frame(wallet_a, 1, event=unknown)
    assert isinstance(newest.event, NewOrder)
    assert newest.event.model_dump(by_alias=True)["giftWrap"] is True


def test_a_known_type_kept_unread_is_read_back_the_same_way(wallet_a: str) -> None:
    unreadable = UnknownEvent.model_validate({"type": "new_order", "total": {"cents": 4150}})
    with ClientStore(":memory:") as store:
        store.record(frame(wallet_a, 1, event=unreadable))

        [back] = store.recent()

    assert isinstance(back.event, UnknownEvent)
    assert back.event.model_dump() == {"type": "new_order", "total": {"cents": 4150}}


def test_a_row_that_does_not_parse_is_skipped_and_logged(
    db: Path, wallet_a: str, caplog: pytest.LogCaptureFixture
) -> None:
    with ClientStore(db) as store:
        store.record(frame(wallet_a, 1))
        store.record(frame(wallet_a, 2))
    other = sqlite3.connect(db)
    other.execute('UPDATE events SET frame = \'{"type": "event"\' WHERE seq = 2')
    other.commit()
    other.close()

    with ClientStore(db) as store, caplog.at_level(logging.WARNING, "seller_notifier.store"):
        assert [f.seq for f in store.recent()] == [1]

    assert "skipping stored event 2 of" in caplog.text


def test_a_store_from_a_newer_version_is_refused_untouched(db: Path, wallet_a: str) -> None:
    with ClientStore(db) as store:
        store.record(frame(wallet_a, 1))
    other = sqlite3.connect(db)
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    other.execute("CREATE TABLE from_the_future (x)")
    other.commit()
    other.close()
    before = db.read_bytes()

    with pytest.raises(StoreError, match="written by a newer version of Seller Notifier"):
        ClientStore(db)

    assert db.read_bytes() == before


def test_a_database_of_something_else_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE invoices (id)")
    other.commit()
    other.close()

    with pytest.raises(StoreError, match="is not a Seller Notifier event store"):
        ClientStore(db)


def test_a_file_that_is_not_a_database_is_refused_clearly(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_text("these are my notes, not a database\n" * 200)

    with pytest.raises(StoreError, match="cannot use the event store .*not a database"):
        ClientStore(db)


def test_a_closed_store_says_so(wallet_a: str) -> None:
    store = ClientStore(":memory:")
    store.close()
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.record(frame(wallet_a, 1))
    with pytest.raises(StoreError, match="closed"):
        store.last_seq(wallet_a)


def test_the_schema_version_is_written(db: Path) -> None:
    ClientStore(db).close()

    other = sqlite3.connect(db)
    assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
