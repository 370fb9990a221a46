"""Noticing that the machine slept, so the client reconnects at once after a wake.

While a laptop sleeps, its TCP connections die without a word and a client
waiting out a backoff keeps waiting after the lid opens: the seller sees
silence. Nothing in asyncio says "the machine just woke", but the clocks do:

* the wall clock (``time.time``) counts the sleep, while the monotonic clock
  the event loop runs on stops during suspend on Linux and macOS: after a wake,
  the wall clock has moved far more than the monotonic one;
* where the monotonic clock does count the sleep (Windows), a short periodic
  timer fires far later than it was due.

:class:`WakeDetector` samples both clocks every ``tick`` seconds and reports
either jump as a :class:`WakeUp`; :func:`watch_for_wake` hands each one to
``SellerClient.reconnect_now``. A large manual change of the clock looks like
a wake too, which only costs one needless reconnect. The clocks are injectable,
so tests simulate a three-hour sleep without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

logger = logging.getLogger("seller_notifier.client")

TICK: Final = 1.0
"""Seconds between two looks at the clocks: a wake is noticed about this long after it."""
THRESHOLD: Final = 5.0
"""Seconds of unexplained clock difference that count as a sleep."""


@dataclass(frozen=True, slots=True)
class WakeUp:
    """The machine seems to have been away (asleep, or this process frozen) for ``away`` s."""

    away: float
    clue: str
    """Which clock told: ``"wall clock"`` or ``"stalled timer"``."""

    def describe(self) -> str:
        """One sentence for the status line and the log."""
        return f"woke from sleep (away about {_duration(self.away)}, by the {self.clue})"


class WakeDetector:
    """Compares the wall clock with the monotonic clock, one sample per :meth:`check`.

    ``wall`` and ``monotonic`` return seconds (default ``time.time`` and
    ``time.monotonic``); ``tick`` is how often :meth:`watch` looks, ``threshold``
    how many seconds of unexplained difference count as a wake.
    """

    def __init__(
        self,
        *,
        tick: float = TICK,
        threshold: float = THRESHOLD,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if tick <= 0 or threshold <= 0:
            raise ValueError("tick and threshold must be positive")
        self.tick = tick
        self.threshold = threshold
        self._wall = wall
        self._monotonic = monotonic
        self._last = (wall(), monotonic())

    def check(self) -> WakeUp | None:
        """Take a sample; a :class:`WakeUp` if the clocks disagree since the last one."""
        wall, monotonic = self._wall(), self._monotonic()
        last_wall, last_monotonic = self._last
        self._last = (wall, monotonic)
        wall_step = wall - last_wall
        monotonic_step = monotonic - last_monotonic
        unexplained = wall_step - monotonic_step
        if unexplained > self.threshold:
            return WakeUp(away=unexplained, clue="wall clock")
        overdue = monotonic_step - self.tick
        if overdue > self.threshold:
            return WakeUp(away=overdue, clue="stalled timer")
        return None

    async def watch(self, on_wake: Callable[[WakeUp], object]) -> None:
        """Look every ``tick`` seconds until cancelled; call ``on_wake`` for each wake.

        The clocks are compared with the last sample (the first is taken when the
        detector is made): make the detector just before watching.
        """
        while True:
            await asyncio.sleep(self.tick)
            woke = self.check()
            if woke is None:
                continue
            logger.info("%s", woke.describe())
            try:
                on_wake(woke)
            except Exception:
                logger.exception("a wake callback failed")


class Reconnectable(Protocol):
    """What :func:`watch_for_wake` needs (``SellerClient`` has it)."""

    def reconnect_now(self, reason: str) -> None: ...


async def watch_for_wake(client: Reconnectable, detector: WakeDetector | None = None) -> None:
    """Run until cancelled: after every wake, ``client.reconnect_now(...)``."""
    watcher = detector if detector is not None else WakeDetector()
    await watcher.watch(lambda woke: client.reconnect_now(woke.describe()))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
