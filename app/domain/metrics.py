"""The figures on the dashboard's cards, computed from folded orders and reviews. Pure.

Definitions (what a seller reads on the cards):

* **revenue** — the totals of orders *placed* in the period, per currency, except
  orders that are now ``cancelled`` or ``refunded``; orders whose ``new_order``
  event is unknown (no amount) are left out. Currencies are never added together.
* **today** — the calendar day of ``now`` in ``now``'s time zone (pass local time);
  **last 7 days** — today and the six days before it.
* **orders today** — orders placed today, whatever their status.
* **waiting to ship** — orders whose latest status is ``paid`` or ``processing``.
* **average rating** — the mean of every review's rating.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from app.domain.folding import Order, Review

REVENUE_EXCLUDED: Final = frozenset({"cancelled", "refunded"})
"""Statuses whose orders bring no money in."""
WAITING_TO_SHIP: Final = frozenset({"paid", "processing"})
"""Statuses of orders the seller still has to send."""
WEEK_DAYS: Final = 7


@dataclass(frozen=True, slots=True)
class RatingSummary:
    """How many reviews and the sum of their ratings (the store can count them in SQL)."""

    count: int = 0
    total: int = 0

    @property
    def average(self) -> Decimal | None:
        """The mean rating to two decimals (``Decimal("4.33")``); None without reviews."""
        if self.count == 0:
            return None
        return (Decimal(self.total) / self.count).quantize(Decimal("0.01"), ROUND_HALF_UP)


def summarize_ratings(reviews: Iterable[Review]) -> RatingSummary:
    count = total = 0
    for review in reviews:
        count += 1
        total += review.rating
    return RatingSummary(count, total)


@dataclass(frozen=True, slots=True)
class Metrics:
    """What the cards show. Revenue maps currency → amount, sorted by currency."""

    revenue_today: Mapping[str, Decimal] = field(default_factory=dict)
    revenue_week: Mapping[str, Decimal] = field(default_factory=dict)
    orders_today: int = 0
    orders_week: int = 0
    waiting_to_ship: int = 0
    rating: RatingSummary = RatingSummary()


def day_start(now: datetime) -> datetime:
    """Midnight at the start of ``now``'s day, in ``now``'s time zone."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def week_start(now: datetime) -> datetime:
    """Midnight six days before ``now``'s day: the start of "the last 7 days"."""
    return day_start(now) - timedelta(days=WEEK_DAYS - 1)


def counts_as_revenue(order: Order) -> bool:
    """True if the order's total belongs in revenue (known amount, not cancelled or refunded)."""
    return order.placement is not None and order.status not in REVENUE_EXCLUDED


def compute_metrics(
    orders: Iterable[Order], rating: RatingSummary, *, now: datetime
) -> Metrics:
    """The cards' figures at ``now`` (an aware datetime in the seller's time zone)."""
    today, week = day_start(now), week_start(now)
    tomorrow = today + timedelta(days=1)
    revenue_today: dict[str, Decimal] = {}
    revenue_week: dict[str, Decimal] = {}
    orders_today = orders_week = waiting = 0
    for order in orders:
        if order.status in WAITING_TO_SHIP:
            waiting += 1
        placed = order.placed_at
        if not week <= placed < tomorrow:
            continue
        orders_week += 1
        is_today = placed >= today
        orders_today += is_today
        placement = order.placement
        if placement is None or order.status in REVENUE_EXCLUDED:
            continue
        currency = placement.currency
        revenue_week[currency] = revenue_week.get(currency, Decimal(0)) + placement.total
        if is_today:
            revenue_today[currency] = revenue_today.get(currency, Decimal(0)) + placement.total
    return Metrics(
        revenue_today=dict(sorted(revenue_today.items())),
        revenue_week=dict(sorted(revenue_week.items())),
        orders_today=orders_today,
        orders_week=orders_week,
        waiting_to_ship=waiting,
        rating=rating,
    )


def revenue_timeline(
    orders: Iterable[Order], currency: str, *, since: datetime
) -> list[tuple[datetime, Decimal]]:
    """Cumulative revenue in ``currency`` from ``since``: one point per order, oldest first.

    The chart's line; it starts at zero and each counted order adds its total.
    """
    placed = sorted(
        (order.placed_at, order.placement.total)
        for order in orders
        if order.placement is not None
        and order.placement.currency == currency
        and order.status not in REVENUE_EXCLUDED
        and order.placed_at >= since
    )
    running = Decimal(0)
    points = []
    for moment, total in placed:
        running += total
        points.append((moment, running))
    return points


def main_currency(orders: Iterable[Order], *, since: datetime) -> str | None:
    """The currency most orders since ``since`` were paid in (ties: alphabetical); None if none."""
    counts: dict[str, int] = {}
    for order in orders:
        if order.placement is not None and order.placed_at >= since:
            counts[order.placement.currency] = counts.get(order.placement.currency, 0) + 1
    if not counts:
        return None
    return min(counts, key=lambda currency: (-counts[currency], currency))
