"""Seller events: what the marketplace tells a seller, in its camelCase shape.

``SellerEvent`` is the union of every known event plus :class:`UnknownEvent`:
an event type this version does not know (sent by a newer gateway) is kept with
all its fields and shown generically rather than dropped or crashing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import Discriminator, Field, Tag, TypeAdapter

from app.protocol.model import WireModel
from app.protocol.money import Amount, Currency
from app.protocol.wallet import WalletAddress

ORDER_STATUSES: Final = (
    "pending",
    "paid",
    "processing",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
)
"""Statuses the marketplace uses today. Others are accepted and shown as they are."""

Text = Annotated[str, Field(max_length=1000)]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]
TransactionHash = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]


class OrderItem(WireModel):
    name: Text
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit_price: Amount
    sku: Text | None = None


class NewOrder(WireModel):
    type: Literal["new_order"] = "new_order"
    order_id: Identifier
    total: Amount
    currency: Currency
    items: Annotated[list[OrderItem], Field(max_length=500)] = []
    buyer: Text | None = None
    status: Text = "pending"
    created_at: datetime | None = None


class OrderStatusChanged(WireModel):
    type: Literal["order_status_changed"] = "order_status_changed"
    order_id: Identifier
    previous_status: Text | None = None
    new_status: Text
    reason: Text | None = None
    changed_at: datetime | None = None


class PaymentReceived(WireModel):
    type: Literal["payment_received"] = "payment_received"
    amount: Amount
    currency: Currency
    transaction_hash: TransactionHash
    order_id: Identifier | None = None
    payer: WalletAddress | None = None
    received_at: datetime | None = None


class TierUpgraded(WireModel):
    type: Literal["tier_upgraded"] = "tier_upgraded"
    previous_tier: Text | None = None
    new_tier: Text
    benefits: Annotated[list[Text], Field(max_length=100)] = []
    upgraded_at: datetime | None = None


class ReviewReceived(WireModel):
    type: Literal["review_received"] = "review_received"
    review_id: Identifier
    rating: Annotated[int, Field(ge=1, le=5)]
    order_id: Identifier | None = None
    comment: Annotated[str, Field(max_length=4000)] = ""
    reviewer: Text | None = None
    created_at: datetime | None = None


class AnalyticsUpdate(WireModel):
    type: Literal["analytics_update"] = "analytics_update"
    period: Text = "today"
    views: Annotated[int, Field(ge=0)] = 0
    orders: Annotated[int, Field(ge=0)] = 0
    revenue: dict[Currency, Amount] = {}
    conversion_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    average_rating: Annotated[float, Field(ge=0, le=5)] | None = None
    generated_at: datetime | None = None


class CacheInvalidate(WireModel):
    type: Literal["cache_invalidate"] = "cache_invalidate"
    keys: Annotated[list[Identifier], Field(min_length=1, max_length=100)]
    reason: Text | None = None


class UnknownEvent(WireModel):
    """An event type this version does not know; every field is kept as received."""

    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


KNOWN_EVENTS: Final[dict[str, type[WireModel]]] = {
    "new_order": NewOrder,
    "order_status_changed": OrderStatusChanged,
    "payment_received": PaymentReceived,
    "tier_upgraded": TierUpgraded,
    "review_received": ReviewReceived,
    "analytics_update": AnalyticsUpdate,
    "cache_invalidate": CacheInvalidate,
}
"""Event type name → model, in the order the documentation lists them."""


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    if isinstance(kind, str) and kind in KNOWN_EVENTS and not isinstance(value, UnknownEvent):
        return kind
    return "unknown"


SellerEvent = Annotated[
    Annotated[NewOrder, Tag("new_order")]
    | Annotated[OrderStatusChanged, Tag("order_status_changed")]
    | Annotated[PaymentReceived, Tag("payment_received")]
    | Annotated[TierUpgraded, Tag("tier_upgraded")]
    | Annotated[ReviewReceived, Tag("review_received")]
    | Annotated[AnalyticsUpdate, Tag("analytics_update")]
    | Annotated[CacheInvalidate, Tag("cache_invalidate")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]
"""Any seller event; validate with :func:`parse_event` or as a field of a frame."""

_SELLER_EVENT: Final[TypeAdapter[SellerEvent]] = TypeAdapter(SellerEvent)


def parse_event(data: Mapping[str, Any]) -> SellerEvent:
    """Validate one event in its wire (camelCase) shape.

    Raises ``pydantic.ValidationError`` when a known event is malformed; use
    ``describe_error(exc, union=True)`` from :mod:`app.protocol.codec` for a
    one-line message.
    """
    return _SELLER_EVENT.validate_python(data)


def event_to_wire(event: WireModel) -> dict[str, Any]:
    """The event as the JSON-ready camelCase dict sent on the wire."""
    return event.model_dump(mode="json", exclude_none=True)


def is_known(event: WireModel) -> bool:
    """False for :class:`UnknownEvent`: a type this version cannot interpret."""
    return not isinstance(event, UnknownEvent)
