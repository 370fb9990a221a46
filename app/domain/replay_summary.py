"""After a replay, a few summary toasts instead of a flood: the flood-control rule.

A seller back from a weekend must not get 300 toasts and 300 sounds, but must
not miss anything either. :func:`summarize_replay` takes every event one
replay delivered (the history and the dashboard list all of them anyway) and
decides what to *show*: up to :data:`SUMMARY_AFTER` notices are shown one by
one; beyond that, one summary per event type ("7 new orders · 412.50 USDC"),
the most important first. At most one of the toasts plays a sound
(:attr:`ReplaySummary.sound`). Silent notices (cache invalidations) are never
shown. :class:`ReplayTally` does the same one event at a time, for a replay
too long to keep in memory. Pure: no I/O, no Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from app.domain.notices import (
    ICON_GENERIC,
    Notice,
    Priority,
    describe,
    format_amount,
    kind_label,
)
from app.protocol.events import (
    NewOrder,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    TierUpgraded,
)
from app.protocol.frames import EventFrame

SUMMARY_AFTER: Final = 3
"""A replay that brings more notices than this is summarised, one toast per event type."""
_IDS_NAMED: Final = 3
_CURRENCIES_NAMED: Final = 3


@dataclass(frozen=True)
class ReplaySummary:
    """What to show after one replay.

    ``toasts``: the notices to show, in order (the individual ones for a short
    replay, else one per event type). ``sound``: the one toast allowed to play
    a sound (the most urgent, if at least ``normal``), or None. ``summarized``:
    whether ``toasts`` are summaries. ``events``: how many events the replay
    brought (all of them belong in the history, whatever is shown).
    """

    toasts: tuple[Notice, ...]
    sound: Notice | None
    summarized: bool
    events: int


def summarize_replay(
    frames: Iterable[EventFrame], *, summary_after: int = SUMMARY_AFTER
) -> ReplaySummary:
    """Decide the toasts (and the one sound) for the events of one replay, in seq order."""
    tally = ReplayTally(summary_after=summary_after)
    for frame in frames:
        tally.add(frame)
    return tally.summary()


class ReplayTally:
    """:func:`summarize_replay` one event at a time, in memory bounded by the event types.

    A replay of 50,000 events need not be held in memory to be summarised: give
    each to :meth:`add` as it arrives, ask :meth:`summary` at the end. While the
    replay is short, :attr:`held` keeps the events to show one by one; once it
    is long enough to be summarised (:attr:`summarizing`), :meth:`add` hands
    every event back at once, to be listed without a toast of its own.
    """

    def __init__(self, *, summary_after: int = SUMMARY_AFTER) -> None:
        self._summary_after = summary_after
        self._groups: dict[str, _Group] = {}
        self._shown: list[Notice] = []
        self.events = 0
        """Events added (silent ones included)."""
        self.held: list[EventFrame] = []
        """Events to show one by one at the end, while the replay is still short."""

    @property
    def summarizing(self) -> bool:
        return len(self._shown) > self._summary_after

    def add(self, frame: EventFrame) -> list[EventFrame]:
        """Count one replayed event; returns the events to list now without their own toast
        (a silent one, or every one once the replay is long enough to be summarised)."""
        self.events += 1
        notice = describe(frame)
        if notice.silent:
            return [frame]
        group = self._groups.get(notice.kind)
        if group is None:
            group = self._groups[notice.kind] = _Group(notice.kind)
        group.add(frame, notice)
        if self.summarizing:
            return [frame]
        self._shown.append(notice)
        self.held.append(frame)
        if self.summarizing:
            released, self.held = self.held, []
            return released
        return []

    def summary(self) -> ReplaySummary:
        if not self.summarizing:
            toasts = tuple(self._shown)
            return ReplaySummary(toasts, _loudest(toasts), summarized=False, events=self.events)
        summaries = [group.notice() for group in self._groups.values()]
        # Most important first; among equals, the type that came first.
        summaries.sort(key=lambda notice: -notice.priority.rank)
        toasts = tuple(summaries)
        return ReplaySummary(toasts, _loudest(toasts), summarized=True, events=self.events)


def _loudest(toasts: Sequence[Notice]) -> Notice | None:
    if not toasts:
        return None
    loudest = max(toasts, key=lambda notice: notice.priority.rank)
    return loudest if loudest.priority.rank >= Priority.NORMAL.rank else None


@dataclass
class _Group:
    """What one event type of a replay adds up to."""

    kind: str
    count: int = 0
    priority: Priority = Priority.LOW
    icon: str = ICON_GENERIC
    last: EventFrame | None = None
    last_title: str = ""
    totals: dict[str, Decimal] = field(default_factory=dict)
    order_ids: list[str] = field(default_factory=list)
    named_orders: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    ratings: list[int] = field(default_factory=list)
    tier: str | None = None

    def add(self, frame: EventFrame, notice: Notice) -> None:
        if self.count == 0:
            self.icon = notice.icon
        self.count += 1
        self.last, self.last_title = frame, notice.title
        if notice.priority.rank > self.priority.rank:
            self.priority = notice.priority
        event = frame.event
        if isinstance(event, NewOrder):
            self._add_money(event.total, event.currency)
            self._name(event.order_id)
        elif isinstance(event, PaymentReceived):
            self._add_money(event.amount, event.currency)
            if event.order_id:
                self._name(event.order_id)
        elif isinstance(event, OrderStatusChanged):
            self.statuses[event.new_status] = self.statuses.get(event.new_status, 0) + 1
        elif isinstance(event, ReviewReceived):
            self.ratings.append(event.rating)
        elif isinstance(event, TierUpgraded):
            self.tier = event.new_tier

    def _add_money(self, amount: Decimal, currency: str) -> None:
        self.totals[currency] = self.totals.get(currency, Decimal(0)) + amount

    def _name(self, order_id: str) -> None:
        self.named_orders += 1
        if len(self.order_ids) < _IDS_NAMED:
            self.order_ids.append(order_id)

    def notice(self) -> Notice:
        title, body = self._words()
        last = self.last
        assert last is not None
        return Notice(
            title=title,
            body=body,
            priority=self.priority,
            kind=self.kind,
            icon=self.icon,
            order_id=None,
            wallet=last.wallet,
            seq=last.seq,
            event_id=None if self.count > 1 else last.id,
            ts=last.ts,
        )

    def _words(self) -> tuple[str, str]:
        count = self.count
        if self.kind == "new_order":
            return _with_money(_count(count, "new order", "new orders"), self.totals), (
                self._while_away()
            )
        if self.kind == "payment_received":
            return _with_money(_count(count, "payment", "payments"), self.totals), (
                self._while_away()
            )
        if self.kind == "order_status_changed":
            body = ", ".join(f"{number} {status}" for status, number in self.statuses.items())
            return _count(count, "order update", "order updates"), body
        if self.kind == "review_received":
            title = _count(count, "new review", "new reviews")
            if self.ratings:
                title += f" · average {sum(self.ratings) / len(self.ratings):.1f} ★"
            low = sum(1 for rating in self.ratings if rating <= 2)
            return title, f"{low} with 2 stars or fewer" if low else ""
        if self.kind == "tier_upgraded":
            title = _count(count, "tier upgrade", "tier upgrades")
            return (title + f" · now {self.tier}" if self.tier else title), ""
        return f"{count} × {kind_label(self.kind)}", self.last_title

    def _while_away(self) -> str:
        if not self.order_ids:
            return ""
        shown = ", ".join(f"#{order_id}" for order_id in self.order_ids)
        more = self.named_orders - len(self.order_ids)
        return f"While you were away: {shown}" + (f" and {more} more" if more > 0 else "")


def _with_money(title: str, totals: dict[str, Decimal]) -> str:
    if not totals:
        return title
    named = [format_amount(total, currency) for currency, total in totals.items()]
    if len(named) > _CURRENCIES_NAMED:
        named = named[:_CURRENCIES_NAMED] + [f"{len(totals) - _CURRENCIES_NAMED} more"]
    return f"{title} · " + " + ".join(named)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"
