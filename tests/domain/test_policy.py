"""The notification policy: filters, quiet hours, pauses, bursts and sounds, on a fake clock."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.notices import Priority, app_notice, describe
from app.domain.policy import (
    NotificationPolicy,
    QuietWindow,
    Rules,
    order_url,
    pause_for,
    pause_until_tomorrow,
)
from app.protocol.frames import EventFrame

LOCAL = timezone(timedelta(hours=2))
# Wednesday 25 November 2026, 14:00 local time.
NOON = datetime(2026, 11, 25, 14, 0, tzinfo=LOCAL)
WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


class FakeClock:
    def __init__(self, start: datetime = NOON) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Feed:
    """Builds frames with increasing seq and ids, timestamped 'now' unless told."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.seq = 0

    def frame(self, event: dict[str, Any], *, ts: datetime | None = None, id: str | None = None):
        self.seq += 1
        return EventFrame.model_validate(
            {
                "wallet": WALLET,
                "seq": self.seq,
                "id": id or f"evt-{self.seq}",
                "ts": (ts or self.clock.now).astimezone(UTC).isoformat(),
                "event": event,
            }
        )

    def order(self, order_id: str, total: str = "12.50", currency: str = "USDC", **kw: Any):
        return self.frame(
            {"type": "new_order", "orderId": order_id, "total": total, "currency": currency}, **kw
        )

    def payment(self, amount: str, tx: str, order_id: str | None = "A1", **kw: Any):
        event: dict[str, Any] = {
            "type": "payment_received",
            "amount": amount,
            "currency": "USDC",
            "transactionHash": "0x" + tx * (64 // len(tx)),
        }
        if order_id:
            event["orderId"] = order_id
        return self.frame(event, **kw)

    def status(self, order_id: str, new: str):
        return self.frame({"type": "order_status_changed", "orderId": order_id, "newStatus": new})

    def review(self, rating: int = 5):
        return self.frame(
            {"type": "review_received", "reviewId": f"r{self.seq}", "rating": rating}
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def feed(clock: FakeClock) -> Feed:
    return Feed(clock)


def decide(policy: NotificationPolicy, frame: EventFrame, **kw: Any):
    return policy.decide(describe(frame), frame.event, **kw)


# --- filters ------------------------------------------------------------------------


def test_a_new_order_toasts_with_the_new_order_sound(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    decision = decide(policy, feed.order("A1"))
    assert decision.show and decision.notice is not None
    assert decision.notice.title == "New order #A1 — 12.50 USDC"
    assert decision.sound == "new-order" and decision.key is None


def test_a_switched_off_type_is_not_shown(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(disabled_kinds=frozenset({"review_received"})), clock=clock)
    assert decide(policy, feed.review()).reason == "type off"
    assert decide(policy, feed.order("A1")).show


def test_unknown_types_answer_to_the_other_switch(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(disabled_kinds=frozenset({"other"})), clock=clock)
    assert decide(policy, feed.frame({"type": "loyalty_points", "points": 5})).reason == "type off"


def test_minimum_priority(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(min_priority=Priority.HIGH), clock=clock)
    assert decide(policy, feed.review(5)).reason == "below minimum priority"
    assert decide(policy, feed.review(1)).show, "a 1-star review is high priority"
    assert decide(policy, feed.status("A1", "refunded")).show


def test_minimum_order_amount(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(min_amount=Decimal("20")), clock=clock)
    assert decide(policy, feed.order("A1", "19.99")).reason == "below minimum amount"
    assert decide(policy, feed.order("A2", "20")).show
    assert decide(policy, feed.payment("5", "a1")).reason == "below minimum amount"
    assert decide(policy, feed.review()).show, "no amount: the minimum does not apply"


def test_silent_and_duplicate_events_are_not_shown(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    assert decide(policy, feed.frame({"type": "cache_invalidate", "keys": ["k"]})).reason == (
        "silent"
    )
    first = feed.order("A1", id="same-id")
    assert decide(policy, first).show
    assert decide(policy, first).reason == "duplicate"
    clock.advance(seconds=5)
    assert decide(policy, feed.payment("10", "ab", id="p1")).show
    again = decide(policy, feed.payment("10", "ab", id="p2"))
    assert again.reason == "duplicate", "the same transaction under another id"


# --- quiet hours and pauses ----------------------------------------------------------


def test_quiet_hours_hold_everything_but_urgent(clock: FakeClock, feed: Feed) -> None:
    quiet = QuietWindow(time(22), time(7))
    policy = NotificationPolicy(Rules(quiet=quiet), clock=clock)
    assert decide(policy, feed.order("A1")).show
    clock.now = NOON.replace(hour=23, minute=30)
    assert decide(policy, feed.order("A2")).reason == "quiet hours"
    assert policy.decide_app(app_notice("Connection lost", priority=Priority.HIGH)).reason == (
        "quiet hours"
    )
    urgent = app_notice("The server refused this device", priority=Priority.URGENT)
    assert policy.decide_app(urgent).show
    clock.now = NOON.replace(hour=7, minute=0)
    assert decide(policy, feed.order("A3")).show, "the window ends at 07:00 sharp"


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (datetime(2026, 11, 27, 23, 0, tzinfo=LOCAL), True),  # Friday night
        (datetime(2026, 11, 28, 6, 0, tzinfo=LOCAL), True),  # Saturday morning: Friday's window
        (datetime(2026, 11, 28, 23, 0, tzinfo=LOCAL), False),  # Saturday night
        (datetime(2026, 11, 30, 6, 0, tzinfo=LOCAL), False),  # Monday morning: Sunday's window
        (datetime(2026, 11, 30, 22, 0, tzinfo=LOCAL), True),  # Monday 22:00 sharp
    ],
)
def test_quiet_days_weekdays_only(moment: datetime, quiet: bool) -> None:
    window = QuietWindow(time(22), time(7), frozenset(range(5)))
    assert window.contains(moment) is quiet


def test_a_daytime_window() -> None:
    window = QuietWindow(time(12), time(13, 30), frozenset({2}))
    assert window.contains(NOON.replace(hour=12, minute=45))
    assert not window.contains(NOON.replace(hour=13, minute=30))
    assert not window.contains((NOON + timedelta(days=1)).replace(hour=12, minute=45))


@given(
    start=st.times(),
    end=st.times(),
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(LOCAL)
    ),
)
@settings(max_examples=300, deadline=None)
def test_all_days_window_matches_the_wall_clock(start: time, end: time, moment: datetime) -> None:
    window = QuietWindow(start, end)
    clock = moment.time()
    expected = (start <= clock < end) if start < end else (clock >= start or clock < end)
    assert window.contains(moment) is expected


def test_paused_until_then(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(paused_until=pause_for(clock.now)), clock=clock)
    assert decide(policy, feed.order("A1")).reason == "paused"
    assert policy.decide_app(app_notice("Settings reset")).reason == "paused"
    assert policy.decide_app(app_notice("Not configured"), forced=True).show
    clock.advance(hours=1)
    assert decide(policy, feed.order("A2")).show


def test_pause_until_tomorrow_ends_in_the_morning() -> None:
    late = datetime(2026, 12, 31, 23, 50, tzinfo=LOCAL)
    assert pause_until_tomorrow(late) == datetime(2027, 1, 1, 8, 0, tzinfo=LOCAL)
    assert pause_until_tomorrow(NOON) == datetime(2026, 11, 26, 8, 0, tzinfo=LOCAL)


# --- sounds --------------------------------------------------------------------------


def test_payment_kaching_but_never_for_refunds_or_free_orders(
    clock: FakeClock, feed: Feed
) -> None:
    policy = NotificationPolicy(clock=clock)
    assert decide(policy, feed.payment("25", "a1", "A1")).sound == "payment"
    clock.advance(seconds=5)
    refund = decide(policy, feed.status("A1", "refunded"))
    assert refund.show and refund.sound is None
    cancel = decide(policy, feed.status("A2", "cancelled"))
    assert cancel.show and cancel.sound is None
    free = decide(policy, feed.order("A3", "0"))
    assert free.show and free.sound is None and free.muted == "free order"


def test_no_sound_for_replays(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    old = decide(policy, feed.order("A1", ts=clock.now - timedelta(hours=3)))
    assert old.show and old.sound is None and old.muted == "replayed"
    clock.advance(seconds=5)
    told = decide(policy, feed.order("A2"), replayed=True)
    assert told.sound is None and told.muted == "replayed"


def test_no_sound_for_a_resaved_order_or_a_second_payment(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    assert decide(policy, feed.order("A1")).sound == "new-order"
    clock.advance(seconds=5)
    resaved = decide(policy, feed.order("A1"))
    assert resaved.show and resaved.sound is None and resaved.muted == "already notified"
    clock.advance(seconds=5)
    assert decide(policy, feed.payment("10", "b1", "A1")).sound == "payment"
    clock.advance(seconds=5)
    assert decide(policy, feed.payment("10", "b2", "A1")).sound is None


def test_sound_switch_and_per_type_choice(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(sound_enabled=False), clock=clock)
    muted = decide(policy, feed.order("A1"))
    assert muted.show and muted.sound is None and muted.muted == "sound off"
    policy.update_rules(Rules(sounds={"review_received": "payment"}))
    clock.advance(seconds=5)
    assert decide(policy, feed.order("A2")).sound is None, "no sound chosen for orders"
    assert decide(policy, feed.review()).sound == "payment"


def test_one_sound_per_second(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    assert decide(policy, feed.order("A1")).sound == "new-order"
    clock.advance(seconds=0.3)
    assert decide(policy, feed.payment("10", "c1")).muted == "a sound just played"
    clock.advance(seconds=1)
    assert decide(policy, feed.review()).sound == "review"


# --- bursts --------------------------------------------------------------------------


def test_a_burst_becomes_one_summary_updated_in_place(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    decisions = []
    totals = ["100", "50.25", "12.25", "200", "30", "10", "10"]
    for n, total in enumerate(totals, start=1):
        decisions.append(decide(policy, feed.order(f"A{n}", total)))
        clock.advance(seconds=0.1)
    singles, summaries = decisions[:3], decisions[3:]
    assert all(d.key is None and d.show for d in singles)
    keys = {d.key for d in summaries}
    assert len(keys) == 1 and None not in keys, "one summary, replaced each time"
    last = summaries[-1].notice
    assert last is not None
    assert last.title == "7 new orders · 412.50 USDC"
    assert "#A7" in last.body
    assert summaries[0].notice is not None
    assert summaries[0].notice.title == "4 new orders · 362.50 USDC"
    sounds = [d.sound for d in decisions]
    assert sounds == ["new-order"] + [None] * 6, "a burst rings once"
    assert all(d.muted == "summary updated" for d in summaries[1:])


def test_a_summary_adds_currencies_separately(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    last = None
    for n, (total, currency) in enumerate(
        [("1", "USDC"), ("2", "EUR"), ("3", "USDC"), ("4", "EUR")], start=1
    ):
        last = decide(policy, feed.order(f"B{n}", total, currency))
    assert last is not None and last.notice is not None
    assert last.notice.title == "4 new orders · 6.00 EUR + 4.00 USDC"


def test_a_quiet_moment_ends_the_burst(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    first_keys = [decide(policy, feed.review()).key for _ in range(5)]
    clock.advance(seconds=3)
    after = decide(policy, feed.review())
    assert after.key is None, "one review after a pause is shown on its own"
    second_keys = [decide(policy, feed.review()).key for _ in range(4)]
    assert second_keys[-1] is not None and second_keys[-1] != first_keys[-1]


def test_events_spread_over_seconds_are_not_a_burst(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    for n in range(10):
        assert decide(policy, feed.order(f"C{n}")).key is None
        clock.advance(seconds=0.6)


def test_bursts_are_per_type(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(clock=clock)
    kinds = [decide(policy, feed.order(f"D{n}")).key for n in range(3)]
    kinds += [decide(policy, feed.review()).key for _ in range(3)]
    assert kinds == [None] * 6


def test_filtered_events_do_not_count_towards_a_burst(clock: FakeClock, feed: Feed) -> None:
    policy = NotificationPolicy(Rules(min_amount=Decimal(10)), clock=clock)
    for n in range(5):
        decide(policy, feed.order(f"E{n}", "1"))
    assert decide(policy, feed.order("E9", "50")).key is None


# --- links --------------------------------------------------------------------------


def test_order_url_is_encoded() -> None:
    template = "https://market.example/orders/{orderId}"
    assert order_url(template, "A-17") == "https://market.example/orders/A-17"
    assert order_url(template, "../x?y#z") == "https://market.example/orders/..%2Fx%3Fy%23z"
    assert order_url(None, "A1") is None and order_url(template, None) is None



# --- memory -------------------------------------------------------------------------


def test_a_long_session_of_orders_keeps_the_policy_memory_flat(
    clock: FakeClock, feed: Feed
) -> None:
    policy = NotificationPolicy(clock=clock)
    frames = [feed.order(f"B-{n}") for n in range(6_000)]
    notices = [describe(frame) for frame in frames]

    def decide_range(first: int, last: int) -> None:
        for frame, notice in zip(frames[first:last], notices[first:last], strict=True):
            clock.advance(seconds=2)  # a steady trickle, not a burst
            assert policy.decide(notice, frame.event).show

    tracemalloc.start()
    try:
        decide_range(0, 2_000)  # the repeat memories are full now
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        decide_range(2_000, 6_000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    # Remembering 4,000 more event and order ids would take ≥ 600 KiB.
    assert growth < 100 * 1024, f"{growth:,} bytes more after 4,000 more orders"
    resaved = decide(policy, feed.order("B-5999"))
    assert resaved.show and resaved.sound is None and resaved.muted == "already notified"
