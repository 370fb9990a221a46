"""The wake detector: a wall-clock jump against the monotonic clock means the machine slept."""

from __future__ import annotations

import asyncio

import pytest

from app.client.wake import WakeDetector, WakeUp, watch_for_wake

HOURS_3 = 3 * 3600.0


class Clocks:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall_now = 1_790_000_000.0
        self.monotonic_now = 5_000.0

    def wall(self) -> float:
        return self.wall_now

    def monotonic(self) -> float:
        return self.monotonic_now

    def tick(self, seconds: float) -> None:
        self.wall_now += seconds
        self.monotonic_now += seconds

    def suspend(self, seconds: float) -> None:
        """Linux and macOS: the monotonic clock stops while the machine sleeps."""
        self.wall_now += seconds

    def freeze(self, seconds: float) -> None:
        """Windows, or a stopped process: both clocks run, the timers do not fire."""
        self.wall_now += seconds
        self.monotonic_now += seconds


def detector(clocks: Clocks, tick: float = 1.0) -> WakeDetector:
    return WakeDetector(tick=tick, threshold=5.0, wall=clocks.wall, monotonic=clocks.monotonic)


def test_ordinary_ticks_are_not_a_wake() -> None:
    clocks = Clocks()
    watch = detector(clocks)
    for _ in range(100):
        clocks.tick(1.0)
        assert watch.check() is None
    clocks.tick(4.0)  # a busy loop: late, but not by enough to be a sleep
    assert watch.check() is None


def test_a_three_hour_suspend_is_seen_by_the_wall_clock() -> None:
    clocks = Clocks()
    watch = detector(clocks)
    clocks.tick(1.0)
    clocks.suspend(HOURS_3)

    woke = watch.check()

    assert woke == WakeUp(away=pytest.approx(HOURS_3), clue="wall clock")
    assert woke is not None and woke.describe() == (
        "woke from sleep (away about 3.0 h, by the wall clock)"
    )
    clocks.tick(1.0)
    assert watch.check() is None  # reported once


def test_a_sleep_the_monotonic_clock_counted_is_seen_as_a_stalled_timer() -> None:
    clocks = Clocks()
    watch = detector(clocks)
    clocks.freeze(600.0)

    woke = watch.check()

    assert woke is not None and woke.clue == "stalled timer"
    assert woke.away == pytest.approx(599.0)


def test_setting_the_clock_back_is_not_a_wake() -> None:
    clocks = Clocks()
    watch = detector(clocks)
    clocks.tick(1.0)
    clocks.wall_now -= 3600

    assert watch.check() is None


@pytest.mark.asyncio
async def test_watching_tells_the_client_to_reconnect_after_a_wake() -> None:
    clocks = Clocks()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    class Client:
        def reconnect_now(self, reason: str) -> None:
            reasons.put_nowait(reason)

    watching = asyncio.create_task(watch_for_wake(Client(), detector(clocks, tick=0.01)))
    try:
        clocks.suspend(HOURS_3)
        reason = await asyncio.wait_for(reasons.get(), 10)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    assert reason.startswith("woke from sleep (away about 3.0 h")
    assert reasons.empty()


@pytest.mark.asyncio
async def test_a_failing_wake_callback_is_logged_and_watching_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = Clocks()
    calls: asyncio.Queue[WakeUp] = asyncio.Queue()

    def on_wake(woke: WakeUp) -> None:
        calls.put_nowait(woke)
        raise RuntimeError("boom")

    watching = asyncio.create_task(detector(clocks, tick=0.01).watch(on_wake))
    try:
        clocks.suspend(60)
        await asyncio.wait_for(calls.get(), 10)
        clocks.suspend(60)
        await asyncio.wait_for(calls.get(), 10)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    assert any("wake callback failed" in record.getMessage() for record in caplog.records)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        WakeDetector(tick=0)
