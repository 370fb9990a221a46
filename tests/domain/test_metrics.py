"""The dashboard's figures: revenue per currency, orders, waiting to ship, rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from app.domain.folding import Order, fold_events
from app.domain.metrics import (
    RatingSummary,
    compute_metrics,
    main_currency,
    revenue_timeline,
    summarize_ratings,
)
from app.protocol import EventFrame

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
# The seller is in UTC+2: their day starts at 22:00 UTC the evening before.
LOCAL = timezone(timedelta(hours=2))
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=LOCAL)


def frame(seq: int, event: dict[str, Any]) -> EventFrame:
    return EventFrame.model_validate(
        {"wallet": WALLET, "seq": seq, "id": f"e{seq}", "ts": NOW.isoformat(), "event": event}
    )


def orders(*specs: tuple[str, str, str, datetime, str]) -> list[Order]:
    """(order id, total, currency, placed at, status) → folded orders."""
    frames = []
    for seq, (order_id, total, currency, placed, status) in enumerate(specs, start=1):
        frames.append(
            frame(
                2 * seq,
                {
                    "type": "new_order",
                    "orderId": order_id,
                    "total": total,
                    "currency": currency,
                    "createdAt": placed.isoformat(),
                },
            )
        )
        frames.append(
            frame(
                2 * seq + 1,
                {
                    "type": "order_status_changed",
                    "orderId": order_id,
                    "newStatus": status,
                    "changedAt": (placed + timedelta(seconds=1)).isoformat(),
                },
            )
        )
    return list(fold_events(frames).orders.values())  # fmt: skip


def test_revenue_today_and_this_week_per_currency() -> None:
    today = NOW.replace(hour=9)
    found = orders(
        ("A", "10.10", "EUR", today, "paid"),
        ("B", "5.00", "EUR", today, "shipped"),
        ("C", "0.0042", "ETH", today, "pending"),
        ("D", "100.00", "EUR", today - timedelta(days=6), "delivered"),  # still this week
        ("E", "999.00", "EUR", today - timedelta(days=7), "delivered"),  # too old
        ("F", "50.00", "USD", today, "cancelled"),
        ("G", "60.00", "USD", today, "refunded"),
    )

    metrics = compute_metrics(found, RatingSummary(), now=NOW)

    assert metrics.revenue_today == {"ETH": Decimal("0.0042"), "EUR": Decimal("15.10")}
    assert list(metrics.revenue_today) == ["ETH", "EUR"]
    assert metrics.revenue_week == {"ETH": Decimal("0.0042"), "EUR": Decimal("115.10")}
    assert metrics.orders_today == 5  # cancelled and refunded orders were still placed
    assert metrics.orders_week == 6
    assert metrics.waiting_to_ship == 1  # only "paid"; processing would count too


def test_today_is_the_sellers_day_not_utcs() -> None:
    just_after_local_midnight = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # 00:30 in UTC+2
    late_yesterday = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 23:30 the day before

    metrics = compute_metrics(
        orders(
            ("A", "1.00", "EUR", just_after_local_midnight, "paid"),
            ("B", "2.00", "EUR", late_yesterday, "processing"),
        ),
        RatingSummary(),
        now=NOW,
    )

    assert metrics.revenue_today == {"EUR": Decimal("1.00")}
    assert metrics.orders_today == 1
    assert metrics.waiting_to_ship == 2


def test_orders_known_only_by_their_status_count_but_bring_no_revenue() -> None:
    status_only = fold_events(
        [frame(1, {"type": "order_status_changed", "orderId": "X", "newStatus": "paid"})]
    ).orders.values()

    metrics = compute_metrics(status_only, RatingSummary(), now=NOW)

    assert metrics.revenue_today == {}
    assert metrics.orders_today == 1
    assert metrics.waiting_to_ship == 1


def test_average_rating() -> None:
    assert RatingSummary().average is None
    assert RatingSummary(3, 13).average == Decimal("4.33")
    assert RatingSummary(2, 9).average == Decimal("4.50")
    reviews = fold_events(
        [frame(i, {"type": "review_received", "reviewId": f"R{i}", "rating": r})
         for i, r in enumerate((5, 4, 1), start=1)]
    ).reviews.values()  # fmt: skip
    assert summarize_ratings(reviews) == RatingSummary(3, 10)


def test_revenue_timeline_is_cumulative_and_oldest_first() -> None:
    start = NOW.replace(hour=8)
    found = orders(
        ("B", "5.00", "EUR", start + timedelta(hours=2), "paid"),
        ("A", "10.00", "EUR", start + timedelta(hours=1), "paid"),
        ("C", "7.00", "USD", start, "paid"),
        ("D", "3.00", "EUR", start, "cancelled"),
        ("E", "4.00", "EUR", start - timedelta(hours=1), "paid"),
    )

    points = revenue_timeline(found, "EUR", since=start)

    assert points == [
        (start + timedelta(hours=1), Decimal("10.00")),
        (start + timedelta(hours=2), Decimal("15.00")),
    ]
    assert main_currency(found, since=start) == "EUR"
    assert main_currency([], since=start) is None
