"""What an event means to a seller, in words: the text and urgency of a notification.

:func:`describe` turns every delivered :class:`~app.protocol.frames.EventFrame`
into a :class:`Notice` (title, body, priority, icon). It never returns ``None``:
events a seller should not be interrupted by (``cache_invalidate``) come back
with ``silent=True``, so the dashboard can still list them while toasts, sounds
and native notifications skip them. Pure: no I/O, no Qt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum
from typing import Any, Final, Protocol

from app.protocol.events import (
    AnalyticsUpdate,
    CacheInvalidate,
    NewOrder,
    OrderItem,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    TierUpgraded,
    UnknownEvent,
)
from app.protocol.frames import EventFrame


class Priority(StrEnum):
    """How much a notice deserves the seller's attention, lowest first."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 for ``low`` … 3 for ``urgent``: compare priorities with this."""
        return _RANKS[self]


_RANKS: Final = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


@dataclass(frozen=True)
class Notice:
    """One thing to tell the seller.

    ``kind`` is the event type (``new_order`` …, the unknown type's own name for
    an event this version does not know, or ``gap`` / ``app`` for notices the app
    makes itself). ``icon`` names a file in ``resources/icons`` (without
    ``.svg``). ``silent`` notices are listed but never shown as a toast.
    ``wallet``, ``seq``, ``event_id`` and ``ts`` come from the frame; they are
    ``None`` for the app's own notices.
    """

    title: str
    body: str
    priority: Priority
    kind: str
    icon: str
    order_id: str | None = None
    wallet: str | None = None
    seq: int | None = None
    event_id: str | None = None
    ts: datetime | None = None
    silent: bool = False


# Icon names: files in resources/icons (see app.resources.EVENT_ICONS).
ICON_NEW_ORDER: Final = "event-new-order"
ICON_ORDER_STATUS: Final = "event-order-status"
ICON_PAYMENT: Final = "event-payment"
ICON_TIER: Final = "event-tier"
ICON_REVIEW: Final = "event-review"
ICON_ANALYTICS: Final = "event-analytics"
ICON_GENERIC: Final = "event-generic"

TITLE_LIMIT: Final = 120
BODY_LIMIT: Final = 400
"""Longer texts are cut with an ellipsis: a toast is a glance, the dashboard has the rest."""

_ITEMS_SHOWN: Final = 3
_MAX_DECIMALS: Final = 8
_UNKNOWN_FIELDS_SHOWN: Final = 6
_UNKNOWN_VALUE_LIMIT: Final = 40

_STATUS_PHRASES: Final = {
    "pending": "is pending",
    "paid": "was paid",
    "processing": "is being processed",
    "shipped": "shipped",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
    "canceled": "was cancelled",
    "refunded": "was refunded",
}
_ALARMING_STATUSES: Final = frozenset({"cancelled", "canceled", "refunded"})
"""Money is leaving or a sale is lost: the seller wants to know at once."""


_KIND_LABELS: Final = {
    "new_order": "New order",
    "order_status_changed": "Order status",
    "payment_received": "Payment",
    "tier_upgraded": "Tier upgrade",
    "review_received": "Review",
    "analytics_update": "Analytics",
    "cache_invalidate": "Data refresh",
    "gap": "Missed events",
    "app": "Seller Notifier",
}


def kind_label(kind: str) -> str:
    """A short name for an event type, for lists (``new_order`` → ``New order``);
    a type this version does not know is shown as it is."""
    return _KIND_LABELS.get(kind, kind)


def describe(frame: EventFrame) -> Notice:
    """The notice for one delivered event; every event type, known or not, has one."""
    event = frame.event
    if isinstance(event, NewOrder):
        notice = _new_order(event)
    elif isinstance(event, OrderStatusChanged):
        notice = _status_changed(event)
    elif isinstance(event, PaymentReceived):
        notice = _payment(event)
    elif isinstance(event, TierUpgraded):
        notice = _tier(event)
    elif isinstance(event, ReviewReceived):
        notice = _review(event)
    elif isinstance(event, AnalyticsUpdate):
        notice = _analytics(event)
    elif isinstance(event, CacheInvalidate):
        notice = _cache_invalidate(event)
    else:
        notice = _unknown(event)
    return Notice(
        title=_clip(_one_line(notice.title), TITLE_LIMIT),
        body=_clip(notice.body.strip(), BODY_LIMIT),
        priority=notice.priority,
        kind=notice.kind,
        icon=notice.icon,
        order_id=notice.order_id,
        wallet=frame.wallet,
        seq=frame.seq,
        event_id=frame.id,
        ts=frame.ts,
        silent=notice.silent,
    )


class LostRange(Protocol):
    """Events ``from_seq``..``to_seq`` of ``wallet`` that can no longer be delivered
    (a protocol ``Gap`` frame or the client's ``GapDetected``)."""

    @property
    def wallet(self) -> str: ...

    @property
    def from_seq(self) -> int: ...

    @property
    def to_seq(self) -> int: ...


def describe_gap(gap: LostRange) -> Notice:
    """The notice for events the gateway no longer has: they must never vanish silently."""
    count = gap.to_seq - gap.from_seq + 1
    what = "1 event" if count == 1 else f"{count} events"
    return Notice(
        title=f"{what} could not be delivered",
        body=(
            f"Events #{gap.from_seq}–#{gap.to_seq} are no longer kept by the server. "
            "Check the marketplace for what happened while you were away."
        ),
        priority=Priority.HIGH,
        kind="gap",
        icon=ICON_GENERIC,
        wallet=gap.wallet,
    )


def app_notice(title: str, body: str = "", priority: Priority = Priority.NORMAL) -> Notice:
    """A notice the app makes about itself (not configured, sign-in refused …)."""
    return Notice(
        title=_clip(_one_line(title), TITLE_LIMIT),
        body=_clip(body.strip(), BODY_LIMIT),
        priority=priority,
        kind="app",
        icon=ICON_GENERIC,
    )


def format_amount(amount: Decimal, currency: str) -> str:
    """``Decimal("12.5"), "USDC"`` → ``"12.50 USDC"``; exact, never through a float.

    At least two decimals, trailing zeros beyond them dropped, thousands grouped.
    More than eight decimals are cut towards zero and marked with ``≈`` (or shown
    as ``<0.00000001``), so the figure shown is never more than was paid.
    """
    digits = amount.as_tuple().digits
    # The default context (28 digits) would round a long amount: widen it instead.
    with localcontext(prec=len(digits) + _MAX_DECIMALS + 2):
        value = amount.normalize()
        exponent = value.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        prefix = ""
        if decimals > _MAX_DECIMALS:
            smallest = Decimal(1).scaleb(-_MAX_DECIMALS)
            cut = value.quantize(smallest, rounding=ROUND_DOWN)
            if cut == 0:
                bound = f"<{smallest:f}" if value > 0 else f">-{smallest:f}"
                return f"{bound} {currency}"
            value, decimals, prefix = cut, _MAX_DECIMALS, "≈"
        text = f"{value:,.{max(decimals, 2)}f}"
    return f"{prefix}{text} {currency}"


def short_hash(value: str) -> str:
    """``0x1234…cdef``: enough to recognise a transaction or wallet at a glance."""
    head = 6 if value.startswith("0x") else 4
    if len(value) <= head + 5:
        return value
    return f"{value[:head]}…{value[-4:]}"


def stars(rating: int) -> str:
    """``4`` → ``★★★★☆`` (clamped to 0–5)."""
    filled = min(max(rating, 0), 5)
    return "★" * filled + "☆" * (5 - filled)


# --- one function per event type ----------------------------------------------------


def _new_order(event: NewOrder) -> Notice:
    total = format_amount(event.total, event.currency)
    parts = [_items_summary(event.items)]
    if event.buyer:
        parts.append(f"Buyer: {_one_line(event.buyer)}")
    return Notice(
        title=f"New order #{event.order_id} — {total}",
        body="\n".join(p for p in parts if p),
        priority=Priority.NORMAL,
        kind=event.type,
        icon=ICON_NEW_ORDER,
        order_id=event.order_id,
    )


def _items_summary(items: list[OrderItem]) -> str:
    if not items:
        return ""
    shown = [f"{item.quantity} × {_one_line(item.name)}" for item in items[:_ITEMS_SHOWN]]
    more = len(items) - _ITEMS_SHOWN
    if more > 0:
        shown.append(f"+{more} more")
    return ", ".join(shown)


def _status_changed(event: OrderStatusChanged) -> Notice:
    status = _one_line(event.new_status).lower()
    phrase = _STATUS_PHRASES.get(status)
    title = (
        f"Order #{event.order_id} {phrase}"
        if phrase
        else f"Order #{event.order_id}: {_one_line(event.new_status)}"
    )
    parts = []
    if event.previous_status:
        parts.append(f"{_one_line(event.previous_status)} → {_one_line(event.new_status)}")
    if event.reason:
        parts.append(f"Reason: {_one_line(event.reason)}")
    alarming = status in _ALARMING_STATUSES
    return Notice(
        title=title,
        body="\n".join(parts),
        priority=Priority.HIGH if alarming else Priority.NORMAL,
        kind=event.type,
        icon=ICON_ORDER_STATUS,
        order_id=event.order_id,
    )


def _payment(event: PaymentReceived) -> Notice:
    parts = []
    if event.order_id:
        parts.append(f"For order #{event.order_id}")
    if event.payer:
        parts.append(f"from {short_hash(event.payer)}")
    lead = " ".join(parts)
    tx = f"tx {short_hash(event.transaction_hash)}"
    return Notice(
        title=f"Payment received — {format_amount(event.amount, event.currency)}",
        body=f"{lead} · {tx}" if lead else tx,
        priority=Priority.NORMAL,
        kind=event.type,
        icon=ICON_PAYMENT,
        order_id=event.order_id,
    )


def _tier(event: TierUpgraded) -> Notice:
    tier = _one_line(event.new_tier)
    parts = []
    if event.benefits:
        parts.append("Benefits: " + "; ".join(_one_line(b) for b in event.benefits))
    if event.previous_tier:
        parts.append(f"Previously {_one_line(event.previous_tier)}")
    return Notice(
        title=f"You reached {tier} tier",
        body="\n".join(parts),
        priority=Priority.HIGH,
        kind=event.type,
        icon=ICON_TIER,
    )


def _review(event: ReviewReceived) -> Notice:
    where = f" on #{event.order_id}" if event.order_id else ""
    parts = []
    comment = event.comment.strip()
    if comment:
        parts.append(f"“{comment}”")
    if event.reviewer:
        parts.append(f"— {_one_line(event.reviewer)}")
    return Notice(
        title=f"{stars(event.rating)} review{where}",
        body="\n".join(parts),
        # A bad review needs an answer while the buyer is still listening.
        priority=Priority.HIGH if event.rating <= 2 else Priority.NORMAL,
        kind=event.type,
        icon=ICON_REVIEW,
        order_id=event.order_id,
    )


def _analytics(event: AnalyticsUpdate) -> Notice:
    period = _one_line(event.period) or "today"
    views = _count(event.views, "view")
    orders = _count(event.orders, "order")
    parts = []
    if event.revenue:
        revenue = ", ".join(
            format_amount(amount, currency) for currency, amount in sorted(event.revenue.items())
        )
        parts.append(f"Revenue {revenue}")
    if event.conversion_rate is not None:
        parts.append(f"conversion {event.conversion_rate * 100:.1f} %")
    if event.average_rating is not None:
        parts.append(f"rating {event.average_rating:.1f}★")
    return Notice(
        title=f"{period[:1].upper()}{period[1:]}: {views}, {orders}",
        body=" · ".join(parts),
        priority=Priority.LOW,
        kind=event.type,
        icon=ICON_ANALYTICS,
    )


def _cache_invalidate(event: CacheInvalidate) -> Notice:
    keys = ", ".join(event.keys[:_UNKNOWN_FIELDS_SHOWN])
    more = len(event.keys) - _UNKNOWN_FIELDS_SHOWN
    if more > 0:
        keys += f" +{more} more"
    body = f"Keys: {keys}"
    if event.reason:
        body += f"\nReason: {_one_line(event.reason)}"
    return Notice(
        title="Marketplace data refreshed",
        body=body,
        priority=Priority.LOW,
        kind=event.type,
        icon=ICON_GENERIC,
        # Housekeeping for the app's caches, nothing the seller has to act on.
        silent=True,
    )


def _unknown(event: UnknownEvent) -> Notice:
    fields = {k: v for k, v in (event.model_extra or {}).items() if k != "type"}
    return Notice(
        title=f"Marketplace event: {event.type}",
        body=_compact_fields(fields),
        priority=Priority.NORMAL,
        kind=event.type,
        icon=ICON_GENERIC,
        order_id=_order_id_of(fields),
    )


def _compact_fields(fields: Mapping[str, Any]) -> str:
    shown = [
        f"{key}: {_clip(_compact_value(value), _UNKNOWN_VALUE_LIMIT)}"
        for key, value in list(fields.items())[:_UNKNOWN_FIELDS_SHOWN]
    ]
    more = len(fields) - _UNKNOWN_FIELDS_SHOWN
    if more > 0:
        shown.append(f"+{more} more")
    return " · ".join(shown)


def _compact_value(value: Any) -> str:
    if isinstance(value, str):
        return _one_line(value)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return _one_line(repr(value))


def _order_id_of(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("orderId", fields.get("order_id"))
    return value if isinstance(value, str) and value else None


# --- text hygiene ---------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """Marketplace text may hold newlines or tabs; a title is one line."""
    return _WHITESPACE.sub(" ", text).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _count(value: int, noun: str) -> str:
    return f"{value:,} {noun}" + ("" if value == 1 else "s")
