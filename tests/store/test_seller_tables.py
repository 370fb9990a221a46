"""What the store folds events into: orders, payments, reviews, tier, analytics, history."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.domain.notices import Priority, app_notice
from app.protocol import EventFrame
from app.store import SCHEMA_VERSION, ClientStore, StoreError

DATA = Path(__file__).resolve().parent / "data"
V1_FILE = DATA / "client-v1.sqlite3"
"""Written by the schema-1 ClientStore (commit ab6fb0d) from 80 simulator events
(``Simulator([wallet], seed=7)``) plus one ``loyalty_points`` event of an unknown
type, seqs 1–81, ids ``evt-<seq>``, gateway times from 2026-11-20 09:07 UTC, 7 min apart."""
V1_WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TX = "0x" + "cd" * 32


def frame(wallet: str, seq: int, event: dict[str, Any], event_id: str | None = None) -> EventFrame:
    return EventFrame.model_validate(
        {
            "wallet": wallet,
            "seq": seq,
            "id": event_id or f"evt-{seq}",
            "ts": (BASE + timedelta(minutes=seq)).isoformat(),
            "event": event,
        }
    )


def new_order(wallet: str, seq: int, order_id: str = "A1", total: str = "19.90") -> EventFrame:
    return frame(
        wallet,
        seq,
        {
            "type": "new_order",
            "orderId": order_id,
            "total": total,
            "currency": "USDC",
            "items": [{"name": "Tote", "quantity": 1, "unitPrice": total}],
            "buyer": "Grace H.",
        },
    )


def status(wallet: str, seq: int, new: str, order_id: str = "A1") -> EventFrame:
    event = {"type": "order_status_changed", "orderId": order_id, "newStatus": new}
    return frame(wallet, seq, event)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with ClientStore(tmp_path / "client.sqlite3") as opened:
        yield opened


def test_recorded_events_fold_into_orders_that_survive_a_restart(
    tmp_path: Path, wallet_a: str
) -> None:
    path = tmp_path / "client.sqlite3"
    with ClientStore(path) as store:
        store.record(new_order(wallet_a, 1))
        store.record(status(wallet_a, 3, "shipped"))
        store.record(status(wallet_a, 2, "paid"))  # late, and older: does not win

    with ClientStore(path) as store:
        [order] = store.orders(wallet_a)

    assert order.status == "shipped"
    assert order.total == Decimal("19.90") and order.currency == "USDC"
    assert order.items[0].name == "Tote" and order.buyer == "Grace H."
    assert order.last_seq == 3


def test_amounts_keep_every_digit(store: ClientStore, wallet_a: str) -> None:
    store.record(new_order(wallet_a, 1, total="0.000000000000000001"))
    order = store.order(wallet_a, "A1")
    assert order is not None and order.total == Decimal("0.000000000000000001")
    assert str(order.total) == "1E-18"  # the same Decimal, not a float's approximation


def test_a_duplicate_event_is_not_folded_twice(store: ClientStore, wallet_a: str) -> None:
    store.record(new_order(wallet_a, 1))
    store.record(new_order(wallet_a, 1))
    assert len(store.orders(wallet_a)) == 1
    assert store.unread_count() == 1


def test_payments_reviews_tier_and_analytics(store: ClientStore, wallet_a: str) -> None:
    store.record(new_order(wallet_a, 1))
    payment = {"type": "payment_received", "amount": "19.90", "currency": "USDC",
               "transactionHash": TX, "orderId": "A1"}  # fmt: skip
    store.record(frame(wallet_a, 2, payment))
    for seq, rating in ((3, 5), (4, 2)):
        review = {"type": "review_received", "reviewId": f"R{seq}", "rating": rating,
                  "orderId": "A1", "comment": "ok"}  # fmt: skip
        store.record(frame(wallet_a, seq, review))
    store.record(frame(wallet_a, 5, {"type": "tier_upgraded", "newTier": "Gold",
                                     "benefits": ["Next-day payouts", "Badge"]}))  # fmt: skip
    store.record(frame(wallet_a, 6, {"type": "analytics_update", "views": 40, "orders": 2,
                                     "revenue": {"USDC": "19.90"}}))  # fmt: skip

    assert [p.amount for p in store.payments(wallet_a, "A1")] == [Decimal("19.90")]
    assert [r.rating for r in store.reviews(wallet_a)] == [2, 5]  # newest first
    summary = store.rating_summary(wallet_a)
    assert (summary.count, summary.average) == (2, Decimal("3.50"))
    tier = store.tier(wallet_a)
    assert tier is not None and tier.name == "Gold"
    assert tier.benefits == ("Next-day payouts", "Badge")
    snapshot = store.latest_analytics(wallet_a)
    assert snapshot is not None and snapshot.views == 40
    assert snapshot.revenue == (("USDC", Decimal("19.90")),)
    # Everything about the order, oldest first, for its detail view.
    assert [f.event.type for f in store.order_events(wallet_a, "A1")] == [
        "new_order", "payment_received", "review_received", "review_received",
    ]  # fmt: skip


def test_wallets_are_kept_apart(store: ClientStore, wallet_a: str, wallet_b: str) -> None:
    store.record(new_order(wallet_a, 1, "A1"))
    store.record(new_order(wallet_b, 1, "B1"))

    assert [o.order_id for o in store.orders(wallet_a)] == ["A1"]
    assert sorted(o.order_id for o in store.orders()) == ["A1", "B1"]
    assert [o.order_id for o in store.orders_by_id(wallet_b, ["A1", "B1"])] == ["B1"]


def test_every_event_is_listed_unread_until_marked_read(store: ClientStore, wallet_a: str) -> None:
    store.record(new_order(wallet_a, 1))
    store.record(status(wallet_a, 2, "cancelled"))
    store.record(frame(wallet_a, 3, {"type": "cache_invalidate", "keys": ["orders"]}))

    listed = store.notices()
    assert [n.notice.title for n in listed] == [
        "Marketplace data refreshed",
        "Order #A1 was cancelled",
        "New order #A1 — 19.90 USDC",
    ]
    assert listed[1].notice.priority is Priority.HIGH
    assert [n.read for n in listed] == [True, False, False]  # silent notices start read
    assert store.unread_count(wallet_a) == 2

    assert store.mark_read([listed[2].id]) == 1
    assert store.unread_count() == 1
    assert store.mark_all_read(wallet_a) == 1
    assert store.unread_count() == 0
    assert store.notices(after_id=listed[1].id) == [store.notices()[0]]


def test_the_apps_own_notices_belong_to_every_wallet(store: ClientStore, wallet_a: str) -> None:
    notice_id = store.add_notice(app_notice("3 events could not be delivered", "", Priority.HIGH))
    [stored] = store.notices(wallet=wallet_a)
    assert stored.id == notice_id and not stored.read
    assert store.unread_count(wallet_a) == 1


def test_a_fold_that_fails_keeps_the_event_and_a_refold_repairs(
    store: ClientStore,
    wallet_a: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(db: object, frame: EventFrame) -> None:
        raise RuntimeError("a bug in folding")

    monkeypatch.setattr("app.store.folded.apply", broken)
    with caplog.at_level(logging.ERROR, "seller_notifier.store"):
        assert store.record(new_order(wallet_a, 1)) is True

    assert "could not fold event 1" in caplog.text
    assert store.count() == 1 and store.last_seq(wallet_a) == 1
    assert store.orders() == [] and store.notices() == []  # the fold was rolled back whole
    monkeypatch.undo()

    assert store.refold(["orders"]) == {"orders"}
    assert [o.order_id for o in store.orders()] == ["A1"]


def test_refold_rebuilds_exactly_the_named_tables(
    store: ClientStore, wallet_a: str, tmp_path: Path
) -> None:
    store.record(new_order(wallet_a, 1, "A1"))
    store.record(new_order(wallet_a, 2, "A2"))
    store.record(frame(wallet_a, 3, {"type": "tier_upgraded", "newTier": "Gold"}))
    # Damage the cached rows behind the store's back.
    other = sqlite3.connect(tmp_path / "client.sqlite3")
    other.execute("UPDATE orders SET status = 'garbled'")
    other.execute("UPDATE tiers SET name = 'garbled'")
    other.commit()
    other.close()

    assert store.refold(["order:A1", "catalogue"]) == {"order:A1"}
    statuses = {o.order_id: o.status for o in store.orders(wallet_a)}
    assert statuses == {"A1": "pending", "A2": "garbled"}
    tier = store.tier(wallet_a)
    assert tier is not None and tier.name == "garbled"

    assert store.refold(["orders", "profile"], wallet=wallet_a) == {"orders", "profile"}
    assert {o.status for o in store.orders(wallet_a)} == {"pending"}
    tier = store.tier(wallet_a)
    assert tier is not None and tier.name == "Gold"


def test_last_synced_at_tells_how_old_the_data_is(store: ClientStore, wallet_a: str) -> None:
    assert store.last_synced_at() is None
    before = datetime.now(UTC)
    store.record(new_order(wallet_a, 1))
    synced = store.last_synced_at(wallet_a)
    assert synced is not None and synced >= before - timedelta(seconds=1)
    assert store.last_synced_at() == synced


# --- migrations ----------------------------------------------------------------------------


def test_a_version_1_store_is_upgraded_and_folded(tmp_path: Path) -> None:
    path = tmp_path / "client.sqlite3"
    shutil.copy(V1_FILE, path)
    old = sqlite3.connect(path)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    old.close()

    with ClientStore(path) as store:
        # Everything version 1 kept is still there.
        assert store.count() == 81
        assert store.last_seq(V1_WALLET) == 81
        assert store.recent(1)[0].event.type == "loyalty_points"
        # And it was folded.
        orders = store.orders(V1_WALLET)
        assert len(orders) == 24
        assert {o.status for o in orders} <= {
            "pending", "paid", "processing", "shipped", "delivered", "cancelled", "refunded"
        }  # fmt: skip
        assert store.rating_summary(V1_WALLET).count == 10
        assert len(store.payments(V1_WALLET)) == 12
        assert store.latest_analytics(V1_WALLET) is not None
        order = orders[0]
        assert store.order_events(V1_WALLET, order.order_id)[0].event.type in (
            "new_order", "order_status_changed"
        )  # fmt: skip
        # The old events were seen when they came: the history starts read.
        assert len(store.notices()) == 81
        assert store.unread_count() == 0
        # New events fold on top, as in a fresh store.
        assert store.record(status(V1_WALLET, 82, "refunded", order.order_id))
        refreshed = store.order(V1_WALLET, order.order_id)
        assert refreshed is not None and refreshed.status == "refunded"
        assert store.unread_count() == 1

    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()


def test_an_upgraded_store_matches_one_that_received_the_same_events(tmp_path: Path) -> None:
    upgraded_path = tmp_path / "upgraded.sqlite3"
    shutil.copy(V1_FILE, upgraded_path)
    with ClientStore(upgraded_path) as upgraded, ClientStore(tmp_path / "fresh.sqlite3") as fresh:
        for received in reversed(upgraded.recent(1000)):
            fresh.record(received)
        by_id = {o.order_id: o for o in upgraded.orders()}
        assert by_id == {o.order_id: o for o in fresh.orders()}
        assert upgraded.payments() == fresh.payments()
        assert upgraded.reviews() == fresh.reviews()
        assert upgraded.analytics() == fresh.analytics()


def test_a_failed_upgrade_leaves_the_version_1_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "client.sqlite3"
    shutil.copy(V1_FILE, path)

    def broken(db: object, frame: object, *, read: bool = False) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("app.store.history.add_event_notice", broken)
    with pytest.raises(StoreError, match="disk is full"):
        ClientStore(path)
    monkeypatch.undo()

    old = sqlite3.connect(path)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"events", "positions"}
    old.close()
    with ClientStore(path) as store:  # and a later start upgrades it
        assert len(store.orders()) == 24


def test_a_newer_store_is_refused_with_a_clear_message_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "client.sqlite3"
    ClientStore(path).close()
    other = sqlite3.connect(path)
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    other.commit()
    other.close()
    before = path.read_bytes()

    with pytest.raises(StoreError) as refused:
        ClientStore(path)

    message = str(refused.value)
    assert "newer version of Seller Notifier" in message
    assert f"schema {SCHEMA_VERSION + 5}" in message and "update Seller Notifier" in message
    assert "\n" not in message
    assert path.read_bytes() == before
