"""Folding events into what a seller looks at: orders, payments, reviews, tier, analytics.

Pure: no I/O, no Qt. The store keeps the folded values (see ``app.store.folded``)
and can rebuild them from the stored events at any time with the same functions.

The rule for "latest" (every register below follows it)
-------------------------------------------------------
Every event gets a :class:`Stamp` ``(at, seq, event_id)``:

* ``at`` is the marketplace's own time for the fact when the event carries one
  (``changedAt``, ``createdAt``, ``receivedAt``, ``upgradedAt``, ``generatedAt``),
  otherwise the gateway's ``ts`` (when the event became durable); a time without a
  zone is taken as UTC;
* ``seq`` (the wallet's gap-free sequence number) breaks ties between equal times,
  and the event id breaks ties between equal seqs (only a damaged log has those).

The *latest* value is the one with the greatest stamp. Stamps are totally ordered,
so "the greatest" depends only on *which* events were folded, never on the order
they arrived in or on how often one was repeated: an ``order_status_changed`` that
arrives late but says it happened earlier does not overwrite a newer status. Every
other field is a minimum or maximum (first seen, last updated, highest seq), so the
whole fold is order-independent and idempotent (``tests/domain/test_folding_properties``
checks it for arbitrary orders and duplicates).

Statuses are compared case-insensitively (``Shipped`` is ``shipped``; ``canceled`` is
``cancelled``); a status this version does not know is kept as it was written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, TypeVar

from app.protocol.events import (
    ORDER_STATUSES,
    AnalyticsUpdate,
    NewOrder,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    TierUpgraded,
)
from app.protocol.frames import EventFrame

_STATUS_SPELLINGS: Final = {"canceled": "cancelled"}


def normalize_status(text: str) -> str:
    """``" Shipped "`` → ``"shipped"``; unknown statuses are kept (trimmed, lower-case)."""
    status = " ".join(text.split()).lower()
    return _STATUS_SPELLINGS.get(status, status)


def is_known_status(status: str) -> bool:
    """True for the statuses the marketplace documents (see ``ORDER_STATUSES``)."""
    return normalize_status(status) in ORDER_STATUSES


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive time is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, order=True)
class Stamp:
    """Where an event stands among the others: compare stamps, the greatest is latest."""

    at: datetime
    seq: int
    event_id: str

    @classmethod
    def of(cls, frame: EventFrame, when: datetime | None = None) -> Stamp:
        """The stamp of ``frame``; ``when`` is the event's own time for the fact, if any."""
        return cls(aware(when if when is not None else frame.ts), frame.seq, frame.id)


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str
    quantity: int
    unit_price: Decimal
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """What the ``new_order`` event said about an order."""

    total: Decimal
    currency: str
    items: tuple[LineItem, ...]
    buyer: str | None
    placed_at: datetime
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Order:
    """One order as the seller knows it now.

    ``placement`` is None while only status changes are known (the ``new_order``
    event is late, or was lost before this device saw it): amounts are then unknown.
    """

    wallet: str
    order_id: str
    status: str
    status_stamp: Stamp
    status_reason: str | None
    placement: Placement | None
    first_seen: datetime
    """The earliest time any event about the order names."""
    updated_at: datetime
    """The latest time any event about the order names."""
    last_seq: int
    """The highest seq of an event about the order."""

    @property
    def placed_at(self) -> datetime:
        return self.placement.placed_at if self.placement is not None else self.first_seen

    @property
    def total(self) -> Decimal | None:
        return self.placement.total if self.placement is not None else None

    @property
    def currency(self) -> str | None:
        return self.placement.currency if self.placement is not None else None

    @property
    def buyer(self) -> str | None:
        return self.placement.buyer if self.placement is not None else None

    @property
    def items(self) -> tuple[LineItem, ...]:
        return self.placement.items if self.placement is not None else ()


@dataclass(frozen=True, slots=True)
class Payment:
    wallet: str
    transaction_hash: str
    amount: Decimal
    currency: str
    order_id: str | None
    payer: str | None
    received_at: datetime
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Review:
    wallet: str
    review_id: str
    rating: int
    order_id: str | None
    comment: str
    reviewer: str | None
    created_at: datetime
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Tier:
    """The seller's current tier and what it brings."""

    wallet: str
    name: str
    previous: str | None
    benefits: tuple[str, ...]
    upgraded_at: datetime
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class AnalyticsSnapshot:
    """One ``analytics_update``: the marketplace's own figures for ``period``.

    ``revenue`` is sorted by currency.
    """

    wallet: str
    period: str
    views: int
    orders: int
    revenue: tuple[tuple[str, Decimal], ...]
    conversion_rate: float | None
    average_rating: float | None
    generated_at: datetime
    stamp: Stamp


class Kind(StrEnum):
    """Which folded collection an event changes."""

    ORDER = "order"
    PAYMENT = "payment"
    REVIEW = "review"
    TIER = "tier"
    ANALYTICS = "analytics"


@dataclass(frozen=True, slots=True)
class Subject:
    """The one thing an event is about: ``(kind, key)`` within ``wallet``.

    ``key`` is the order id, transaction hash, review id, ``""`` for the tier, the
    event id for an analytics snapshot (every snapshot is kept).
    """

    wallet: str
    kind: Kind
    key: str


def subject_of(frame: EventFrame) -> Subject | None:
    """What ``frame`` changes; None for events that fold into nothing
    (``cache_invalidate``, types this version does not know)."""
    event, wallet = frame.event, frame.wallet
    if isinstance(event, NewOrder | OrderStatusChanged):
        return Subject(wallet, Kind.ORDER, event.order_id)
    if isinstance(event, PaymentReceived):
        return Subject(wallet, Kind.PAYMENT, event.transaction_hash)
    if isinstance(event, ReviewReceived):
        return Subject(wallet, Kind.REVIEW, event.review_id)
    if isinstance(event, TierUpgraded):
        return Subject(wallet, Kind.TIER, "")
    if isinstance(event, AnalyticsUpdate):
        return Subject(wallet, Kind.ANALYTICS, frame.id)
    return None


def order_id_of(frame: EventFrame) -> str | None:
    """The order an event concerns (orders, payments and reviews may name one)."""
    event = frame.event
    if isinstance(event, NewOrder | OrderStatusChanged):
        return event.order_id
    if isinstance(event, PaymentReceived | ReviewReceived):
        return event.order_id
    return None


# --- one fold per collection -----------------------------------------------------------


def fold_order(current: Order | None, frame: EventFrame) -> Order:
    """``current`` with ``frame`` (a ``new_order`` or ``order_status_changed``) folded in.

    Raises ``ValueError`` for any other event or another order's event.
    """
    event = frame.event
    if isinstance(event, NewOrder):
        stamp = Stamp.of(frame, event.created_at)
        placement: Placement | None = Placement(
            total=event.total,
            currency=event.currency,
            items=tuple(
                LineItem(item.name, item.quantity, item.unit_price, item.sku)
                for item in event.items
            ),
            buyer=event.buyer,
            placed_at=stamp.at,
            stamp=stamp,
        )
        status, reason = normalize_status(event.status), None
    elif isinstance(event, OrderStatusChanged):
        stamp = Stamp.of(frame, event.changed_at)
        placement = None
        status, reason = normalize_status(event.new_status), event.reason
    else:
        raise ValueError(f"a {event.type} event does not change an order")
    incoming = Order(
        wallet=frame.wallet,
        order_id=event.order_id,
        status=status,
        status_stamp=stamp,
        status_reason=reason,
        placement=placement,
        first_seen=stamp.at,
        updated_at=stamp.at,
        last_seq=frame.seq,
    )
    return incoming if current is None else merge_orders(current, incoming)


def merge_orders(a: Order, b: Order) -> Order:
    """Two views of one order combined: commutative, associative and idempotent."""
    if (a.wallet, a.order_id) != (b.wallet, b.order_id):
        raise ValueError(f"cannot merge order {a.order_id} with {b.order_id}")
    newer_status = a if a.status_stamp >= b.status_stamp else b
    return Order(
        wallet=a.wallet,
        order_id=a.order_id,
        status=newer_status.status,
        status_stamp=newer_status.status_stamp,
        status_reason=newer_status.status_reason,
        placement=_newest_placement(a.placement, b.placement),
        first_seen=min(a.first_seen, b.first_seen),
        updated_at=max(a.updated_at, b.updated_at),
        last_seq=max(a.last_seq, b.last_seq),
    )


def _newest_placement(a: Placement | None, b: Placement | None) -> Placement | None:
    # A marketplace that re-sends an order (corrected items, say) means the newer one.
    if a is None or b is None:
        return a if b is None else b
    return a if a.stamp >= b.stamp else b


def fold_payment(current: Payment | None, frame: EventFrame) -> Payment:
    """The payment of ``frame`` (a ``payment_received``), or ``current`` if that is newer."""
    event = frame.event
    if not isinstance(event, PaymentReceived):
        raise ValueError(f"a {event.type} event is not a payment")
    stamp = Stamp.of(frame, event.received_at)
    incoming = Payment(
        wallet=frame.wallet,
        transaction_hash=event.transaction_hash,
        amount=event.amount,
        currency=event.currency,
        order_id=event.order_id,
        payer=event.payer,
        received_at=stamp.at,
        stamp=stamp,
    )
    return _latest(current, incoming)


def fold_review(current: Review | None, frame: EventFrame) -> Review:
    """The review of ``frame`` (a ``review_received``), or ``current`` if that is newer."""
    event = frame.event
    if not isinstance(event, ReviewReceived):
        raise ValueError(f"a {event.type} event is not a review")
    stamp = Stamp.of(frame, event.created_at)
    incoming = Review(
        wallet=frame.wallet,
        review_id=event.review_id,
        rating=event.rating,
        order_id=event.order_id,
        comment=event.comment,
        reviewer=event.reviewer,
        created_at=stamp.at,
        stamp=stamp,
    )
    return _latest(current, incoming)


def fold_tier(current: Tier | None, frame: EventFrame) -> Tier:
    """The tier ``frame`` (a ``tier_upgraded``) announces, or ``current`` if that is newer."""
    event = frame.event
    if not isinstance(event, TierUpgraded):
        raise ValueError(f"a {event.type} event is not a tier change")
    stamp = Stamp.of(frame, event.upgraded_at)
    incoming = Tier(
        wallet=frame.wallet,
        name=event.new_tier,
        previous=event.previous_tier,
        benefits=tuple(event.benefits),
        upgraded_at=stamp.at,
        stamp=stamp,
    )
    return _latest(current, incoming)


def fold_analytics(current: AnalyticsSnapshot | None, frame: EventFrame) -> AnalyticsSnapshot:
    """The snapshot ``frame`` (an ``analytics_update``) carries (``current``: the same
    event seen before; the newer stamp wins)."""
    event = frame.event
    if not isinstance(event, AnalyticsUpdate):
        raise ValueError(f"a {event.type} event is not an analytics update")
    stamp = Stamp.of(frame, event.generated_at)
    incoming = AnalyticsSnapshot(
        wallet=frame.wallet,
        period=event.period,
        views=event.views,
        orders=event.orders,
        revenue=tuple(sorted(event.revenue.items())),
        conversion_rate=event.conversion_rate,
        average_rating=event.average_rating,
        generated_at=stamp.at,
        stamp=stamp,
    )
    return _latest(current, incoming)


_Register = TypeVar("_Register", Payment, Review, Tier, AnalyticsSnapshot)


def _latest(current: _Register | None, incoming: _Register) -> _Register:
    if current is None or incoming.stamp > current.stamp:
        return incoming
    return current


def latest_analytics(
    snapshots: Iterable[AnalyticsSnapshot], period: str = "today"
) -> AnalyticsSnapshot | None:
    """The newest snapshot for ``period`` (by stamp), or None."""
    chosen: AnalyticsSnapshot | None = None
    for snapshot in snapshots:
        if snapshot.period == period and (chosen is None or snapshot.stamp > chosen.stamp):
            chosen = snapshot
    return chosen


# --- everything at once ----------------------------------------------------------------


@dataclass
class SellerState:
    """Every folded collection, keyed as :class:`Subject` keys them (within a wallet)."""

    orders: dict[tuple[str, str], Order] = field(default_factory=dict)
    payments: dict[tuple[str, str], Payment] = field(default_factory=dict)
    reviews: dict[tuple[str, str], Review] = field(default_factory=dict)
    tiers: dict[str, Tier] = field(default_factory=dict)
    analytics: dict[tuple[str, str], AnalyticsSnapshot] = field(default_factory=dict)

    def apply(self, frame: EventFrame) -> Subject | None:
        """Fold one event in; returns what it changed (None: nothing to fold)."""
        subject = subject_of(frame)
        if subject is None:
            return None
        key = (subject.wallet, subject.key)
        match subject.kind:
            case Kind.ORDER:
                self.orders[key] = fold_order(self.orders.get(key), frame)
            case Kind.PAYMENT:
                self.payments[key] = fold_payment(self.payments.get(key), frame)
            case Kind.REVIEW:
                self.reviews[key] = fold_review(self.reviews.get(key), frame)
            case Kind.TIER:
                self.tiers[subject.wallet] = fold_tier(self.tiers.get(subject.wallet), frame)
            case Kind.ANALYTICS:
                self.analytics[key] = fold_analytics(self.analytics.get(key), frame)
        return subject


def fold_events(frames: Iterable[EventFrame]) -> SellerState:
    """Every event folded, in any order (the result does not depend on it)."""
    state = SellerState()
    for frame in frames:
        state.apply(frame)
    return state


STATUS_LABELS: Final[Mapping[str, str]] = {status: status.capitalize() for status in ORDER_STATUSES}


def status_label(status: str) -> str:
    """``"shipped"`` → ``"Shipped"``; an unknown status is shown capitalised as written."""
    return STATUS_LABELS.get(status, status[:1].upper() + status[1:])
