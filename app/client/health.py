"""How healthy the link to the gateway is: ping bookkeeping without I/O.

The connection adapter sends a WebSocket ping when :meth:`LinkHealth.ping_due`
says so, reports the pong with :meth:`LinkHealth.pong_received`, and sleeps
until :meth:`LinkHealth.next_check`. :meth:`LinkHealth.is_dead` turns true when
a ping has gone unanswered for the heartbeat's ``pong_timeout``. Since a ping
leaves every ``interval`` seconds and ``pong_timeout`` ≤ ``interval``, a peer
that goes silent without closing TCP (a half-open link: a NAT that forgot the
flow, a laptop lid, a pulled cable upstream) is noticed at most
``2 × interval`` after its last answer. Times are the caller's monotonic clock
(the event loop's ``time()``), passed in so tests need no sleeping.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from app.client.backoff import Heartbeat

GOOD_LATENCY: Final = 0.3
"""Round trips (seconds, smoothed) below this are ``good``: nothing to notice."""
POOR_LATENCY: Final = 1.0
"""Round trips at or above this are ``poor``: notifications arrive late enough to notice.
A ping unanswered for this long also makes the link ``poor`` until its pong comes."""
SMOOTHING: Final = 0.3
"""Weight of the newest round trip in the smoothed latency (exponential moving average)."""


class LinkQuality(StrEnum):
    """One word for the tray: is the link fine, slow, or barely usable?"""

    GOOD = "good"
    DEGRADED = "degraded"
    POOR = "poor"


def quality_for(latency: float) -> LinkQuality:
    """The quality level of a (smoothed) round trip of ``latency`` seconds."""
    if latency < GOOD_LATENCY:
        return LinkQuality.GOOD
    if latency < POOR_LATENCY:
        return LinkQuality.DEGRADED
    return LinkQuality.POOR


class LinkHealth:
    """The ping record of one connection, opened at ``now``; the first ping is due at once."""

    def __init__(self, heartbeat: Heartbeat, now: float) -> None:
        self._interval = heartbeat.interval
        self._timeout = heartbeat.pong_timeout
        self._next_ping_at = now
        self._ping_sent_at: float | None = None
        self.latency: float | None = None
        """Smoothed round trip in seconds; None before the first pong."""
        self.last_answer_at = now
        """When the peer last answered a ping (or when the link opened)."""
        self.pings = 0
        self.pongs = 0

    # --- what the adapter reports -----------------------------------------------------

    def ping_sent(self, now: float) -> None:
        """A ping left at ``now``; the next one is due ``interval`` later."""
        self._ping_sent_at = now
        self._next_ping_at = now + self._interval
        self.pings += 1

    def pong_received(self, now: float, latency: float | None = None) -> float:
        """The pong for the last ping arrived; returns the smoothed latency.

        ``latency``: the round trip as measured by the WebSocket library, if it
        measured one; otherwise the time since :meth:`ping_sent`.
        """
        sent = self._ping_sent_at
        if latency is None:
            latency = 0.0 if sent is None else max(0.0, now - sent)
        self._ping_sent_at = None
        self.last_answer_at = now
        self.pongs += 1
        previous = self.latency
        self.latency = latency if previous is None else (
            SMOOTHING * latency + (1 - SMOOTHING) * previous
        )
        return self.latency

    # --- what the adapter asks --------------------------------------------------------

    @property
    def waiting(self) -> bool:
        """A ping is out and its pong has not come back yet."""
        return self._ping_sent_at is not None

    def ping_due(self, now: float) -> bool:
        """Time to send a ping (never while the previous one is unanswered)."""
        return not self.waiting and now >= self._next_ping_at

    def deadline(self) -> float | None:
        """When the unanswered ping makes the link dead; None when nothing is out."""
        sent = self._ping_sent_at
        return None if sent is None else sent + self._timeout

    def is_dead(self, now: float) -> bool:
        """The last ping has gone unanswered for the whole ``pong_timeout``."""
        deadline = self.deadline()
        return deadline is not None and now >= deadline

    def silent_for(self, now: float) -> float:
        """Seconds since the peer last answered."""
        return max(0.0, now - self.last_answer_at)

    def quality(self, now: float) -> LinkQuality | None:
        """The link's quality now; None until the first pong.

        An unanswered ping that is already older than :data:`POOR_LATENCY`
        makes the link ``poor`` at once, before its pong (or the deadline) tells more.
        """
        sent = self._ping_sent_at
        if sent is not None and now - sent >= POOR_LATENCY:
            return LinkQuality.POOR
        if self.latency is None:
            return None
        return quality_for(self.latency)

    def next_check(self, now: float) -> float:
        """The next moment something can change: a ping due, a ping turning poor, a deadline."""
        sent = self._ping_sent_at
        if sent is None:
            return max(now, self._next_ping_at)
        deadline = sent + self._timeout
        poor_at = sent + POOR_LATENCY
        return poor_at if now < poor_at < deadline else deadline
