"""Folding events into orders, payments, reviews, tier and analytics (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.folding import (
    Kind,
    SellerState,
    Stamp,
    fold_events,
    fold_order,
    is_known_status,
    latest_analytics,
    normalize_status,
    order_id_of,
    status_label,
    subject_of,
)
from app.protocol import EventFrame

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def frame(seq: int, event: dict[str, Any], *, event_id: str | None = None) -> EventFrame:
    return EventFrame.model_validate(
        {
            "wallet": WALLET,
            "seq": seq,
            "id": event_id or f"evt-{seq}",
            "ts": (BASE + timedelta(minutes=seq)).isoformat(),
            "event": event,
        }
    )


def placed(seq: int, order_id: str = "A1", total: str = "30.00", **extra: Any) -> EventFrame:
    event = {
        "type": "new_order",
        "orderId": order_id,
        "total": total,
        "currency": "eur",
        "items": [{"name": "Mug", "quantity": 2, "unitPrice": "15.00", "sku": "MUG"}],
        "buyer": "Ada L.",
        **extra,
    }
    return frame(seq, event)


def status(seq: int, new: str, order_id: str = "A1", **extra: Any) -> EventFrame:
    return frame(
        seq, {"type": "order_status_changed", "orderId": order_id, "newStatus": new, **extra}
    )


def test_a_new_order_becomes_a_pending_order_with_its_amounts() -> None:
    order = fold_order(None, placed(1))

    assert order.status == "pending"
    assert order.total == Decimal("30.00") and order.currency == "EUR"
    assert [(i.name, i.quantity, i.unit_price, i.sku) for i in order.items] == [
        ("Mug", 2, Decimal("15.00"), "MUG")
    ]
    assert order.buyer == "Ada L."
    assert order.placed_at == BASE + timedelta(minutes=1)
    assert order.last_seq == 1


def test_the_latest_status_is_the_one_with_the_latest_stamp_whatever_the_arrival() -> None:
    events = [placed(1), status(2, "paid"), status(3, "processing"), status(4, "shipped")]

    in_order = fold_events(events).orders[(WALLET, "A1")]
    shuffled = fold_events([events[3], events[1], events[0], events[2]]).orders[(WALLET, "A1")]

    assert in_order == shuffled
    assert in_order.status == "shipped"
    assert in_order.status_stamp.seq == 4
    assert in_order.updated_at == BASE + timedelta(minutes=4)


def test_the_marketplaces_own_time_outranks_the_arrival_order() -> None:
    # "shipped" was published first although it happened after "processing".
    shipped = status(2, "shipped", changedAt="2026-11-25T12:00:00Z")
    processing = status(3, "processing", changedAt="2026-11-25T11:00:00Z")

    order = fold_events([placed(1), shipped, processing]).orders[(WALLET, "A1")]

    assert order.status == "shipped"


def test_a_naive_time_is_taken_as_utc() -> None:
    late = status(2, "delivered", changedAt="2026-11-25T23:00:00")

    order = fold_events([placed(1), late]).orders[(WALLET, "A1")]

    assert order.status == "delivered"
    assert order.status_stamp.at.tzinfo is not None


def test_a_status_before_its_new_order_makes_an_order_without_amounts_until_it_comes() -> None:
    early = fold_order(None, status(5, "paid"))
    assert early.placement is None and early.total is None and early.items == ()
    assert early.placed_at == BASE + timedelta(minutes=5)

    complete = fold_order(early, placed(4))

    assert complete.status == "paid"
    assert complete.total == Decimal("30.00")
    assert complete.placed_at == BASE + timedelta(minutes=4)


def test_a_repeated_event_changes_nothing() -> None:
    once = fold_events([placed(1), status(2, "paid")])
    twice = fold_events([placed(1), status(2, "paid"), status(2, "paid"), placed(1)])

    assert once == twice


def test_unknown_statuses_are_kept_and_spellings_are_unified() -> None:
    order = fold_events([placed(1), status(2, "  On  Hold ")]).orders[(WALLET, "A1")]
    assert order.status == "on hold"
    assert status_label(order.status) == "On hold"
    assert not is_known_status(order.status)
    assert normalize_status("Canceled") == "cancelled"
    assert is_known_status("SHIPPED")


def test_a_resent_new_order_corrects_the_amounts() -> None:
    order = fold_events([placed(1, total="30.00"), placed(6, total="28.00")]).orders[(WALLET, "A1")]
    assert order.total == Decimal("28.00")


def test_payments_reviews_tier_and_analytics_are_folded() -> None:
    tx = "0x" + "ab" * 32
    events = [
        frame(1, {"type": "payment_received", "amount": "30.00", "currency": "EUR",
                  "transactionHash": tx, "orderId": "A1"}),
        frame(2, {"type": "review_received", "reviewId": "R1", "rating": 4, "orderId": "A1",
                  "comment": "Nice"}),
        frame(3, {"type": "tier_upgraded", "previousTier": "Bronze", "newTier": "Silver",
                  "benefits": ["Lower fees"]}),
        frame(4, {"type": "tier_upgraded", "newTier": "Gold", "benefits": ["Payouts"],
                  "upgradedAt": "2026-11-01T00:00:00Z"}),
        frame(5, {"type": "analytics_update", "views": 10, "orders": 1,
                  "revenue": {"EUR": "30.00"}}),
        frame(6, {"type": "analytics_update", "views": 20, "orders": 2}),
        frame(7, {"type": "cache_invalidate", "keys": ["orders"]}),
        frame(8, {"type": "loyalty_points", "points": 3}),
    ]  # fmt: skip

    state = fold_events(events)

    payment = state.payments[(WALLET, tx)]
    assert payment.amount == Decimal("30.00") and payment.order_id == "A1"
    assert state.reviews[(WALLET, "R1")].rating == 4
    # Gold says it happened on 1 November, before Silver's arrival: Silver is current.
    assert state.tiers[WALLET].name == "Silver"
    assert state.tiers[WALLET].benefits == ("Lower fees",)
    assert len(state.analytics) == 2
    newest = latest_analytics(state.analytics.values())
    assert newest is not None and newest.views == 20
    assert latest_analytics(state.analytics.values(), "week") is None


def test_events_that_fold_into_nothing_say_so() -> None:
    state = SellerState()
    assert state.apply(frame(1, {"type": "cache_invalidate", "keys": ["orders"]})) is None
    assert state.apply(frame(2, {"type": "loyalty_points"})) is None
    assert state == SellerState()


def test_subjects_name_what_an_event_changes() -> None:
    subject = subject_of(placed(1))
    assert subject is not None and (subject.kind, subject.key) == (Kind.ORDER, "A1")
    review = frame(2, {"type": "review_received", "reviewId": "R1", "rating": 5, "orderId": "A1"})
    assert order_id_of(review) == "A1"
    assert order_id_of(frame(3, {"type": "tier_upgraded", "newTier": "Gold"})) is None


def test_stamps_order_by_time_then_seq_then_id() -> None:
    early = Stamp(BASE, 9, "b")
    assert early < Stamp(BASE + timedelta(seconds=1), 1, "a")
    assert Stamp(BASE, 1, "z") < Stamp(BASE, 2, "a")
    assert Stamp(BASE, 1, "a") < Stamp(BASE, 1, "b")


def test_another_event_is_not_an_order() -> None:
    with pytest.raises(ValueError, match="does not change an order"):
        fold_order(None, frame(1, {"type": "tier_upgraded", "newTier": "Gold"}))
