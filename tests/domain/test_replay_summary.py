"""After a replay: a few summary toasts instead of a flood, at most one sound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.notices import Priority
from app.domain.replay_summary import SUMMARY_AFTER, summarize_replay
from app.protocol import (
    AnalyticsUpdate,
    CacheInvalidate,
    EventFrame,
    NewOrder,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    SellerEvent,
    UnknownEvent,
)

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


def frames(*events: SellerEvent) -> list[EventFrame]:
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    return [
        EventFrame(wallet=WALLET, seq=n, id=f"evt-{n}", ts=start + timedelta(minutes=n), event=e)
        for n, e in enumerate(events, start=1)
    ]


def order(number: int, total: str, currency: str = "USDC") -> NewOrder:
    return NewOrder(order_id=f"ORD-{number}", total=Decimal(total), currency=currency)


def test_seven_orders_become_one_toast_with_their_total() -> None:
    totals = ["41.50", "12.00", "99.99", "100.01", "59.00", "50.00", "50.00"]
    summary = summarize_replay(frames(*(order(n, t) for n, t in enumerate(totals))))

    assert summary.summarized and summary.events == 7
    [toast] = summary.toasts
    assert toast.title == "7 new orders · 412.50 USDC"
    assert toast.body == "While you were away: #ORD-0, #ORD-1, #ORD-2 and 4 more"
    assert toast.kind == "new_order" and toast.seq == 7
    assert summary.sound is toast


def test_one_toast_per_event_type_most_important_first_and_one_sound() -> None:
    events: list[SellerEvent] = [order(1, "10.00"), order(2, "5.00", "EUR")]
    events += [
        PaymentReceived(amount=Decimal("0.01"), currency="ETH", transaction_hash="0x" + "a" * 64),
        PaymentReceived(amount=Decimal("0.02"), currency="ETH", transaction_hash="0x" + "b" * 64),
        OrderStatusChanged(order_id="ORD-1", new_status="cancelled"),
        OrderStatusChanged(order_id="ORD-2", new_status="shipped"),
        ReviewReceived(review_id="R-1", rating=5),
        ReviewReceived(review_id="R-2", rating=2),
        CacheInvalidate(keys=["orders"]),
    ]

    summary = summarize_replay(frames(*events))

    titles = [toast.title for toast in summary.toasts]
    assert titles == [
        "2 order updates",  # a cancellation is urgent news: first
        "2 new reviews · average 3.5 ★",
        "2 new orders · 10.00 USDC + 5.00 EUR",
        "2 payments · 0.03 ETH",
    ]
    assert summary.toasts[0].body == "1 cancelled, 1 shipped"
    assert summary.toasts[1].body == "1 with 2 stars or fewer"
    assert summary.sound is summary.toasts[0]
    assert summary.events == 9  # the silent cache refresh is in the history, not toasted


def test_a_few_events_are_shown_one_by_one_still_with_one_sound() -> None:
    few = frames(*(order(n, "1.00") for n in range(SUMMARY_AFTER)))

    summary = summarize_replay(few)

    assert not summary.summarized
    assert [toast.seq for toast in summary.toasts] == [1, 2, 3]
    assert summary.sound is summary.toasts[0]


def test_types_this_version_does_not_know_are_counted_too() -> None:
    unknown = [UnknownEvent.model_validate({"type": "loyalty_points", "n": n}) for n in range(5)]

    summary = summarize_replay(frames(*unknown))

    [toast] = summary.toasts
    assert toast.title == "5 × loyalty_points"


def test_only_silent_events_or_nothing_means_no_toast_and_no_sound() -> None:
    assert summarize_replay([]).toasts == ()
    summary = summarize_replay(frames(*(CacheInvalidate(keys=["x"]) for _ in range(10))))
    assert summary.toasts == () and summary.sound is None and summary.events == 10


def test_low_priority_summaries_make_no_sound() -> None:
    updates = [AnalyticsUpdate(period="today", views=n, orders=0, revenue={}) for n in range(6)]

    summary = summarize_replay(frames(*updates))

    assert [toast.priority for toast in summary.toasts] == [Priority.LOW]
    assert summary.sound is None
