"""Seller events: camelCase on the wire, Decimal money, unknown types kept."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.protocol import (
    KNOWN_EVENTS,
    NewOrder,
    PaymentReceived,
    TierUpgraded,
    UnknownEvent,
    event_to_wire,
    parse_event,
)
from app.protocol.codec import describe_error

TX = "0x" + "ab" * 32

SEED_SHAPES = {
    "new_order": {
        "type": "new_order",
        "orderId": "ORD-1001",
        "total": "41.50",
        "currency": "USD",
        "items": [
            {"name": "Ceramic Mug", "quantity": 2, "unitPrice": "12.75", "sku": "MUG-1"},
            {"name": "Linen Tote", "quantity": 1, "unitPrice": "16.00"},
        ],
        "buyer": "alice",
        "status": "pending",
        "createdAt": "2026-11-25T10:00:00Z",
    },
    "order_status_changed": {
        "type": "order_status_changed",
        "orderId": "ORD-1001",
        "previousStatus": "paid",
        "newStatus": "shipped",
        "changedAt": "2026-11-25T11:00:00Z",
    },
    "payment_received": {
        "type": "payment_received",
        "orderId": "ORD-1001",
        "amount": "0.0125",
        "currency": "ETH",
        "transactionHash": TX,
        "payer": "0x8617e340b3d01fa5f11f306f4090fd50e238070d",
    },
    "tier_upgraded": {
        "type": "tier_upgraded",
        "previousTier": "Silver",
        "newTier": "Gold",
        "benefits": ["Lower fees", "Priority support"],
    },
    "review_received": {
        "type": "review_received",
        "reviewId": "R-7",
        "orderId": "ORD-1001",
        "rating": 4,
        "comment": "Lovely mug",
    },
    "analytics_update": {
        "type": "analytics_update",
        "period": "today",
        "views": 120,
        "orders": 7,
        "revenue": {"USD": "310.20", "EUR": "12.00"},
        "conversionRate": 0.058,
    },
    "cache_invalidate": {"type": "cache_invalidate", "keys": ["orders", "analytics"]},
}


def test_every_known_event_type_has_a_seed_example() -> None:
    assert set(SEED_SHAPES) == set(KNOWN_EVENTS)


@pytest.mark.parametrize("kind", sorted(SEED_SHAPES))
def test_seed_shape_round_trips_unchanged_through_json(kind: str) -> None:
    wire = SEED_SHAPES[kind]
    event = parse_event(wire)
    assert type(event) is KNOWN_EVENTS[kind]
    again = json.loads(json.dumps(event_to_wire(event)))
    # Every field the marketplace sent comes back with its camelCase name and value
    # (timestamps are normalised, so compare them parsed).
    for key, value in wire.items():
        if key.endswith("At"):
            continue
        if key == "payer":
            assert again[key].lower() == value.lower()
            continue
        assert again[key] == value, key
    assert parse_event(again) == event


def test_python_attributes_are_snake_case() -> None:
    order = parse_event(SEED_SHAPES["new_order"])
    assert isinstance(order, NewOrder)
    assert order.order_id == "ORD-1001"
    assert order.items[0].unit_price == Decimal("12.75")
    payment = parse_event(SEED_SHAPES["payment_received"])
    assert isinstance(payment, PaymentReceived)
    assert payment.transaction_hash == TX
    tier = parse_event(SEED_SHAPES["tier_upgraded"])
    assert isinstance(tier, TierUpgraded)
    assert (tier.previous_tier, tier.new_tier) == ("Silver", "Gold")


def test_money_is_exact_decimal_and_serialised_as_string() -> None:
    event = parse_event({**SEED_SHAPES["payment_received"], "amount": "0.100000000000000001"})
    assert isinstance(event, PaymentReceived)
    assert event.amount == Decimal("0.100000000000000001")
    assert event_to_wire(event)["amount"] == "0.100000000000000001"


@pytest.mark.parametrize("amount", [12.5, True, "twelve", "NaN", "Infinity", None, [1]])
def test_money_refuses_floats_and_non_numbers(amount: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_event({**SEED_SHAPES["new_order"], "total": amount})
    assert "total" in describe_error(caught.value)


def test_unknown_event_type_is_kept_with_every_field() -> None:
    wire = {"type": "flash_sale", "discount": "10%", "endsAt": "2026-12-01T00:00:00Z"}
    event = parse_event(wire)
    assert isinstance(event, UnknownEvent)
    assert event.type == "flash_sale"
    assert event_to_wire(event) == wire


def test_new_fields_from_a_newer_gateway_survive_a_round_trip() -> None:
    wire = {**SEED_SHAPES["new_order"], "giftWrap": True}
    assert event_to_wire(parse_event(wire))["giftWrap"] is True


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"rating": 6}, "rating"),
        ({"rating": 0}, "rating"),
        ({"reviewId": ""}, "reviewId"),
    ],
)
def test_invalid_review_fields_are_named_in_the_message(
    patch: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_event({**SEED_SHAPES["review_received"], **patch})
    assert describe_error(caught.value, union=True).startswith(field)


def test_transaction_hash_must_be_32_bytes_hex() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_event({**SEED_SHAPES["payment_received"], "transactionHash": "0x1234"})
    assert "transactionHash" in describe_error(caught.value)


def test_unknown_type_names_must_look_like_types() -> None:
    with pytest.raises(ValidationError):
        parse_event({"type": "DROP TABLE orders"})


def test_currency_is_upper_cased() -> None:
    event = parse_event({**SEED_SHAPES["new_order"], "currency": " usdc "})
    assert isinstance(event, NewOrder)
    assert event.currency == "USDC"
