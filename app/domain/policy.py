"""Which notices interrupt the seller, and how: the notification policy.

:class:`NotificationPolicy` is fed every notice (with the event it came from) and
answers with a :class:`Decision`: show it or not, under which replace-key, and
which sound to play. It knows the seller's filters (event types, minimum
priority, minimum order amount), quiet hours and pauses, coalesces bursts into
one summary that is updated in place, and refuses sounds that would annoy or
mislead (refunds, cancellations, free orders, replays, duplicates, re-saves).

It never decides what is *recorded*: the store and the dashboard get every event.
Pure: no I/O, no Qt; time comes from an injected clock (aware datetimes in the
seller's local zone), so tests can set any moment.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Final
from urllib.parse import quote

from app.domain.notices import Notice, Priority, format_amount
from app.protocol.events import NewOrder, PaymentReceived
from app.protocol.model import WireModel

Clock = Callable[[], datetime]
"""Returns the current moment as an aware datetime in the seller's local zone."""

KNOWN_KINDS: Final = (
    "new_order",
    "order_status_changed",
    "payment_received",
    "review_received",
    "tier_upgraded",
    "analytics_update",
)
"""Event types with their own on/off switch; every other type is ``OTHER_KIND``."""
OTHER_KIND: Final = "other"
APP_KINDS: Final = frozenset({"app", "gap"})
"""Notices the app makes itself: never filtered by type, never coalesced, no sound."""

DEFAULT_SOUNDS: Final[Mapping[str, str]] = {
    "new_order": "new-order",
    "payment_received": "payment",
    "review_received": "review",
    "tier_upgraded": "tier-upgrade",
}
"""Event type → bundled sound. Status changes (refunds, cancellations) have none, on purpose."""

MORNING: Final = time(8, 0)
"""When "Pause until tomorrow" ends."""

_REMEMBERED: Final = 1024
"""Event ids, transaction hashes and order ids remembered to spot repeats (each of the
four memories; the store already drops a repeated event id, and re-saves come soon)."""


def local_now() -> datetime:
    """The default clock: now, aware, in the machine's local zone."""
    return datetime.now().astimezone()


def kind_switch(kind: str) -> str:
    """The on/off switch an event type answers to (``OTHER_KIND`` for unknown types)."""
    return kind if kind in KNOWN_KINDS else OTHER_KIND


@dataclass(frozen=True)
class QuietWindow:
    """Quiet from ``start`` to ``end`` (local wall-clock times) on ``days`` (0 = Monday).

    A window that spans midnight (22:00–07:00) belongs to the day it starts on:
    with ``days`` = Monday–Friday, Friday night 23:00 is quiet, and so is
    Saturday 06:00, but Saturday 23:00 is not.
    """

    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))

    def contains(self, moment: datetime) -> bool:
        clock = moment.timetz().replace(tzinfo=None)
        day = moment.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return day in self.days
        if clock < self.end:
            return (day - 1) % 7 in self.days
        return False


@dataclass(frozen=True)
class Rules:
    """The seller's choices, as the policy needs them (see ``NotificationSettings``)."""

    disabled_kinds: frozenset[str] = frozenset()
    """Switches turned off: ``KNOWN_KINDS`` names or ``OTHER_KIND``."""
    min_priority: Priority = Priority.LOW
    min_amount: Decimal | None = None
    quiet: QuietWindow | None = None
    paused_until: datetime | None = None
    sound_enabled: bool = True
    sounds: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SOUNDS))
    """Event type → sound name; a type not listed plays nothing."""
    burst_size: int = 3
    """More than this many notices of one type within ``burst_window`` become a summary."""
    burst_window: timedelta = timedelta(seconds=1)
    replay_age: timedelta = timedelta(minutes=2)
    """An event older than this when it arrives was missed while offline: a replay."""
    sound_gap: timedelta = timedelta(seconds=1)
    """At most one sound in this long, so a burst rings once."""


@dataclass(frozen=True)
class Decision:
    """What to do with one notice.

    ``notice`` is what to show (the event's own notice, or the summary of a burst
    it belongs to); None means show nothing, and ``reason`` says why. ``key`` is
    set for summaries: a notice with the same key replaces the one shown before
    instead of stacking. ``sound`` names the sound to play (None: silence;
    ``muted`` says why when there would have been one).
    """

    notice: Notice | None
    reason: str
    key: str | None = None
    sound: str | None = None
    muted: str | None = None

    @property
    def show(self) -> bool:
        return self.notice is not None


@dataclass
class _Arrival:
    at: datetime
    notice: Notice
    amount: Decimal | None
    currency: str | None


@dataclass
class _Summary:
    key: str
    count: int
    last_at: datetime
    totals: dict[str, Decimal]
    priority: Priority
    latest: Notice


class NotificationPolicy:
    """Decides, notice by notice, what the seller sees and hears.

    Stateful: it remembers recent arrivals (for bursts), event ids, transaction
    hashes and order ids (for repeats) and the last sound. Change the rules with
    :meth:`update_rules`; the memory is kept.
    """

    def __init__(self, rules: Rules | None = None, *, clock: Clock = local_now) -> None:
        self.rules = rules if rules is not None else Rules()
        self._clock = clock
        self._recent: dict[str, deque[_Arrival]] = {}
        self._summaries: dict[str, _Summary] = {}
        self._summary_serial = 0
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._seen_payments: OrderedDict[str, None] = OrderedDict()
        self._ordered: OrderedDict[str, None] = OrderedDict()
        self._paid: OrderedDict[str, None] = OrderedDict()
        self._last_sound_at: datetime | None = None

    def update_rules(self, rules: Rules) -> None:
        self.rules = rules

    def now(self) -> datetime:
        return self._clock()

    # --- questions about time -----------------------------------------------------

    def paused(self, now: datetime | None = None) -> bool:
        until = self.rules.paused_until
        return until is not None and (now or self._clock()) < until

    def quiet(self, now: datetime | None = None) -> bool:
        window = self.rules.quiet
        return window is not None and window.contains(now or self._clock())

    # --- deciding -----------------------------------------------------------------

    def decide(
        self, notice: Notice, event: WireModel | None = None, *, replayed: bool | None = None
    ) -> Decision:
        """The decision for an event's ``notice``; ``event`` is the event it describes.

        ``replayed``: the event was missed while offline and delivered on
        reconnect; None lets the policy tell from the event's age (``replay_age``).
        Call it once per delivered event, in delivery order.
        """
        now = self._clock()
        if notice.silent:
            return Decision(None, "silent")
        if self._repeated(notice, event):
            return Decision(None, "duplicate")
        if kind_switch(notice.kind) in self.rules.disabled_kinds:
            return Decision(None, "type off")
        if notice.priority.rank < self.rules.min_priority.rank:
            return Decision(None, "below minimum priority")
        amount, currency = _money(event)
        minimum = self.rules.min_amount
        if minimum is not None and amount is not None and amount < minimum:
            return Decision(None, "below minimum amount")
        held = self._held(notice, now)
        if held is not None:
            return Decision(None, held)
        if replayed is None:
            replayed = notice.ts is not None and now - notice.ts > self.rules.replay_age
        first_time = self._first_time(event)
        summary = self._coalesce(notice, now, amount, currency)
        if summary is not None:
            shown, key, fresh = summary
            if not fresh:
                return Decision(shown, "summary updated", key=key, muted="summary updated")
            sound, muted = self._sound(notice, event, now, replayed=replayed, first=first_time)
            return Decision(shown, "summarised", key=key, sound=sound, muted=muted)
        sound, muted = self._sound(notice, event, now, replayed=replayed, first=first_time)
        return Decision(notice, "shown", sound=sound, muted=muted)

    def decide_app(self, notice: Notice, *, forced: bool = False) -> Decision:
        """The decision for one of the app's own notices (not configured, refused …).

        Shown unless paused or in quiet hours; ``forced`` (a problem the seller
        must know about now) and urgent ones show regardless. Never a sound.
        """
        if not forced:
            held = self._held(notice, self._clock())
            if held is not None:
                return Decision(None, held)
        return Decision(notice, "shown")

    def test_decision(self, notice: Notice) -> Decision:
        """A "Send test notification": shown whatever the filters say, with its sound."""
        sound = self.rules.sounds.get(notice.kind) if self.rules.sound_enabled else None
        return Decision(notice, "test", sound=sound, muted=None if sound else "sound off")

    # --- internals ----------------------------------------------------------------

    def _held(self, notice: Notice, now: datetime) -> str | None:
        if notice.priority is Priority.URGENT:
            return None  # urgent notices break through pauses and quiet hours
        if self.paused(now):
            return "paused"
        if self.quiet(now):
            return "quiet hours"
        return None

    def _repeated(self, notice: Notice, event: WireModel | None) -> bool:
        if notice.event_id is not None:
            if notice.event_id in self._seen_events:
                return True
            _remember(self._seen_events, notice.event_id)
        if isinstance(event, PaymentReceived):
            # The same transaction published again under another id is the same money.
            if event.transaction_hash in self._seen_payments:
                return True
            _remember(self._seen_payments, event.transaction_hash)
        return False

    def _first_time(self, event: WireModel | None) -> bool:
        """False for a re-save: an order announced again, a second payment for an order."""
        if isinstance(event, NewOrder):
            again = event.order_id in self._ordered
            _remember(self._ordered, event.order_id)
            return not again
        if isinstance(event, PaymentReceived) and event.order_id is not None:
            again = event.order_id in self._paid
            _remember(self._paid, event.order_id)
            return not again
        return True

    def _sound(
        self,
        notice: Notice,
        event: WireModel | None,
        now: datetime,
        *,
        replayed: bool,
        first: bool,
    ) -> tuple[str | None, str | None]:
        rules = self.rules
        name = rules.sounds.get(notice.kind)
        if name is None:
            return None, None
        amount, _ = _money(event)
        muted: str | None = None
        if not rules.sound_enabled:
            muted = "sound off"
        elif replayed:
            muted = "replayed"
        elif amount is not None and amount <= 0:
            muted = "free order" if isinstance(event, NewOrder) else "no money received"
        elif not first:
            muted = "already notified"
        elif self._last_sound_at is not None and (
            timedelta(0) <= now - self._last_sound_at < rules.sound_gap
        ):
            muted = "a sound just played"
        if muted is not None:
            return None, muted
        self._last_sound_at = now
        return name, None

    def _coalesce(
        self, notice: Notice, now: datetime, amount: Decimal | None, currency: str | None
    ) -> tuple[Notice, str, bool] | None:
        """``(summary, key, fresh)`` when ``notice`` belongs to a burst, else None."""
        if notice.kind in APP_KINDS:
            return None
        rules = self.rules
        kind = notice.kind
        recent = self._recent.setdefault(kind, deque())
        while recent and not timedelta(0) <= now - recent[0].at <= rules.burst_window:
            recent.popleft()
        recent.append(_Arrival(now, notice, amount, currency))
        summary = self._summaries.get(kind)
        if summary is not None and timedelta(0) <= now - summary.last_at <= rules.burst_window:
            summary.count += 1
            summary.last_at = now
            _add(summary.totals, amount, currency)
            summary.priority = max(summary.priority, notice.priority, key=lambda p: p.rank)
            summary.latest = notice
            return _summary_notice(kind, summary), summary.key, False
        self._summaries.pop(kind, None)
        if len(recent) <= rules.burst_size:
            return None
        self._summary_serial += 1
        totals: dict[str, Decimal] = {}
        for arrival in recent:
            _add(totals, arrival.amount, arrival.currency)
        summary = _Summary(
            key=f"summary:{kind}:{self._summary_serial}",
            count=len(recent),
            last_at=now,
            totals=totals,
            priority=max((a.notice.priority for a in recent), key=lambda p: p.rank),
            latest=notice,
        )
        self._summaries[kind] = summary
        return _summary_notice(kind, summary), summary.key, True


# --- helpers ------------------------------------------------------------------------


def pause_for(now: datetime, duration: timedelta = timedelta(hours=1)) -> datetime:
    """When a pause of ``duration`` that starts ``now`` ends."""
    return now + duration


def pause_until_tomorrow(now: datetime, morning: time = MORNING) -> datetime:
    """Tomorrow at ``morning`` (local time, same zone as ``now``)."""
    tomorrow = (now + timedelta(days=1)).date()
    return datetime.combine(tomorrow, morning, tzinfo=now.tzinfo)


def order_url(template: str | None, order_id: str | None) -> str | None:
    """The marketplace page of ``order_id`` from a template like
    ``https://market.example/orders/{orderId}``; None without either.
    The id is percent-encoded, so it can never change the address's host or path."""
    if not template or not order_id:
        return None
    return template.format(orderId=quote(order_id, safe=""))


_SUMMARY_NOUNS: Final = {
    "new_order": ("new order", "new orders"),
    "order_status_changed": ("order update", "order updates"),
    "payment_received": ("payment", "payments"),
    "review_received": ("new review", "new reviews"),
    "tier_upgraded": ("tier upgrade", "tier upgrades"),
    "analytics_update": ("analytics update", "analytics updates"),
}


def _summary_notice(kind: str, summary: _Summary) -> Notice:
    singular, plural = _SUMMARY_NOUNS.get(kind, ("marketplace event", "marketplace events"))
    noun = singular if summary.count == 1 else plural
    title = f"{summary.count} {noun}"
    if summary.totals:
        money = " + ".join(
            format_amount(total, currency) for currency, total in sorted(summary.totals.items())
        )
        title += f" · {money}"
    latest = summary.latest
    return Notice(
        title=title,
        body=f"Latest: {latest.title}\nThe dashboard lists each one.",
        priority=summary.priority,
        kind=kind,
        icon=latest.icon,
        wallet=latest.wallet,
        seq=latest.seq,
        event_id=None,
        ts=latest.ts,
    )


def _money(event: WireModel | None) -> tuple[Decimal | None, str | None]:
    if isinstance(event, NewOrder):
        return event.total, event.currency
    if isinstance(event, PaymentReceived):
        return event.amount, event.currency
    return None, None


def _add(totals: dict[str, Decimal], amount: Decimal | None, currency: str | None) -> None:
    if amount is not None and currency is not None:
        totals[currency] = totals.get(currency, Decimal(0)) + amount


def _remember(memory: OrderedDict[str, None], key: str) -> None:
    memory[key] = None
    memory.move_to_end(key)
    while len(memory) > _REMEMBERED:
        memory.popitem(last=False)


def disabled_kinds(switches: Iterable[tuple[str, bool]]) -> frozenset[str]:
    """The names of the switches that are off, from ``(name, on)`` pairs."""
    return frozenset(name for name, on in switches if not on)


__all__ = [
    "APP_KINDS",
    "DEFAULT_SOUNDS",
    "KNOWN_KINDS",
    "OTHER_KIND",
    "Clock",
    "Decision",
    "NotificationPolicy",
    "QuietWindow",
    "Rules",
    "disabled_kinds",
    "kind_switch",
    "local_now",
    "order_url",
    "pause_for",
    "pause_until_tomorrow",
]
