"""What the seller reads for each event: titles, bodies, priorities, icons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain.notices import (
    Notice,
    Priority,
    app_notice,
    describe,
    describe_gap,
    format_amount,
    kind_label,
    short_hash,
)
from app.protocol.frames import EventFrame, Gap
from app.resources import EVENT_ICONS

TX = "0x" + "ab" * 30 + "cdef"


def frame(event: dict[str, Any], *, wallet: str, seq: int = 7) -> EventFrame:
    return EventFrame.model_validate(
        {
            "wallet": wallet,
            "seq": seq,
            "id": f"evt-{seq}",
            "ts": "2026-11-25T10:00:00Z",
            "event": event,
        }
    )


@pytest.fixture
def notice_of(wallet_a: str) -> Any:
    def build(event: dict[str, Any]) -> Notice:
        return describe(frame(event, wallet=wallet_a))

    return build


def test_new_order_shows_number_total_and_items(notice_of: Any) -> None:
    notice = notice_of(
        {
            "type": "new_order",
            "orderId": "A1",
            "total": "12.5",
            "currency": "usdc",
            "items": [
                {"name": "Mug", "quantity": 2, "unitPrice": "5.00"},
                {"name": "Tea\nbag", "unitPrice": "2.50"},
            ],
            "buyer": "alice",
        }
    )
    assert notice.title == "New order #A1 — 12.50 USDC"
    assert "2 × Mug, 1 × Tea bag" in notice.body
    assert "alice" in notice.body
    assert notice.priority is Priority.NORMAL
    assert notice.kind == "new_order" and notice.icon == "event-new-order"
    assert notice.order_id == "A1"
    assert not notice.silent


def test_new_order_with_many_items_is_summarised(notice_of: Any) -> None:
    items = [{"name": f"Item {i}", "unitPrice": "1"} for i in range(7)]
    notice = notice_of(
        {"type": "new_order", "orderId": "B2", "total": "7", "currency": "EUR", "items": items}
    )
    assert notice.body.startswith("1 × Item 0, 1 × Item 1, 1 × Item 2, +4 more")


def test_frame_identity_is_carried(notice_of: Any, wallet_a: str) -> None:
    notice = notice_of({"type": "new_order", "orderId": "A1", "total": "1", "currency": "USD"})
    assert (notice.wallet, notice.seq, notice.event_id) == (wallet_a, 7, "evt-7")
    assert notice.ts is not None and notice.ts.year == 2026


@pytest.mark.parametrize(
    ("status", "title", "priority"),
    [
        ("shipped", "Order #A1 shipped", Priority.NORMAL),
        ("delivered", "Order #A1 was delivered", Priority.NORMAL),
        ("cancelled", "Order #A1 was cancelled", Priority.HIGH),
        ("refunded", "Order #A1 was refunded", Priority.HIGH),
        ("on_hold", "Order #A1: on_hold", Priority.NORMAL),
    ],
)
def test_status_change(notice_of: Any, status: str, title: str, priority: Priority) -> None:
    notice = notice_of(
        {
            "type": "order_status_changed",
            "orderId": "A1",
            "previousStatus": "paid",
            "newStatus": status,
            "reason": "buyer asked",
        }
    )
    assert notice.title == title
    assert notice.priority is priority
    assert f"paid → {status}" in notice.body
    assert "buyer asked" in notice.body
    assert notice.icon == "event-order-status"


def test_payment_shows_amount_and_short_hash(notice_of: Any) -> None:
    notice = notice_of(
        {
            "type": "payment_received",
            "amount": "0.250",
            "currency": "eth",
            "transactionHash": TX,
            "orderId": "A1",
        }
    )
    assert notice.title == "Payment received — 0.25 ETH"
    assert "#A1" in notice.body
    assert "0xabab…cdef" in notice.body
    assert TX not in notice.body
    assert notice.icon == "event-payment"


def test_tier_upgrade_is_high_with_benefits(notice_of: Any) -> None:
    notice = notice_of(
        {
            "type": "tier_upgraded",
            "previousTier": "Silver",
            "newTier": "Gold",
            "benefits": ["Lower fees", "Priority support"],
        }
    )
    assert notice.title == "You reached Gold tier"
    assert "Lower fees; Priority support" in notice.body
    assert "Silver" in notice.body
    assert notice.priority is Priority.HIGH


@pytest.mark.parametrize(
    ("rating", "priority"),
    [(1, Priority.HIGH), (2, Priority.HIGH), (3, Priority.NORMAL), (5, Priority.NORMAL)],
)
def test_review_priority_follows_rating(notice_of: Any, rating: int, priority: Priority) -> None:
    notice = notice_of(
        {
            "type": "review_received",
            "reviewId": "r1",
            "rating": rating,
            "orderId": "A1",
            "comment": "ok",
        }
    )
    assert notice.priority is priority
    assert notice.title.endswith(" review on #A1")


def test_review_title_shows_stars(notice_of: Any) -> None:
    notice = notice_of(
        {
            "type": "review_received",
            "reviewId": "r1",
            "rating": 4,
            "orderId": "A1",
            "comment": "Fast shipping",
            "reviewer": "bob",
        }
    )
    assert notice.title == "★★★★☆ review on #A1"
    assert "Fast shipping" in notice.body and "bob" in notice.body


def test_analytics_is_low_priority(notice_of: Any) -> None:
    notice = notice_of(
        {
            "type": "analytics_update",
            "period": "today",
            "views": 1200,
            "orders": 1,
            "revenue": {"USDC": "99.5"},
            "conversionRate": 0.042,
        }
    )
    assert notice.priority is Priority.LOW
    assert notice.title == "Today: 1,200 views, 1 order"
    assert "99.50 USDC" in notice.body and "4.2 %" in notice.body


def test_cache_invalidate_is_silent(notice_of: Any) -> None:
    notice = notice_of({"type": "cache_invalidate", "keys": ["orders", "products"]})
    assert notice.silent
    assert notice.priority is Priority.LOW
    assert "orders" in notice.body


def test_unknown_event_is_shown_generically(notice_of: Any) -> None:
    notice = notice_of(
        {
            "type": "flash_sale",
            "discount": 20,
            "endsAt": "2026-12-01",
            "products": ["a", "b"],
            "note": "x" * 200,
        }
    )
    assert notice.title == "Marketplace event: flash_sale"
    assert "discount: 20" in notice.body
    assert 'products: ["a","b"]' in notice.body
    assert "x" * 200 not in notice.body
    assert notice.kind == "flash_sale" and notice.icon == "event-generic"
    assert not notice.silent


def test_long_and_multiline_text_is_tamed(notice_of: Any) -> None:
    notice = notice_of(
        {"type": "order_status_changed", "orderId": "A1", "newStatus": "line1\nline2 " * 50}
    )
    assert "\n" not in notice.title
    assert len(notice.title) <= 120 and notice.title.endswith("…")


def test_every_icon_exists(notice_of: Any) -> None:
    events = [
        {"type": "new_order", "orderId": "A1", "total": "1", "currency": "USD"},
        {"type": "order_status_changed", "orderId": "A1", "newStatus": "paid"},
        {"type": "payment_received", "amount": "1", "currency": "ETH", "transactionHash": TX},
        {"type": "tier_upgraded", "newTier": "Gold"},
        {"type": "review_received", "reviewId": "r", "rating": 5},
        {"type": "analytics_update"},
        {"type": "cache_invalidate", "keys": ["k"]},
        {"type": "something_new"},
    ]
    for event in events:
        assert notice_of(event).icon in EVENT_ICONS


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("12.5", "12.50 USDC"),
        ("12", "12.00 USDC"),
        ("0.25", "0.25 USDC"),
        ("1234567.891", "1,234,567.891 USDC"),
        ("100.000", "100.00 USDC"),
        ("1E+3", "1,000.00 USDC"),
        ("0.1234567891", "≈0.12345678 USDC"),
        ("0.000000000123", "<0.00000001 USDC"),
        ("123456789012345678901234.5", "123,456,789,012,345,678,901,234.50 USDC"),
    ],
)
def test_format_amount_is_exact(amount: str, text: str) -> None:
    assert format_amount(Decimal(amount), "USDC") == text


def test_short_hash() -> None:
    assert short_hash(TX) == "0xabab…cdef"
    assert short_hash("0x1234") == "0x1234"


def test_gap_notice_is_high(wallet_a: str) -> None:
    notice = describe_gap(Gap(wallet=wallet_a, from_seq=3, to_seq=9))
    assert notice.priority is Priority.HIGH
    assert notice.title == "7 events could not be delivered"
    assert "#3–#9" in notice.body


def test_app_notice() -> None:
    notice = app_notice("Not configured yet", "Open Settings", Priority.HIGH)
    assert (notice.kind, notice.priority, notice.wallet) == ("app", Priority.HIGH, None)


def test_priority_ranks_are_ordered() -> None:
    ranks = [p.rank for p in (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4


def test_kind_labels() -> None:
    assert kind_label("new_order") == "New order"
    assert kind_label("flash_sale") == "flash_sale"
