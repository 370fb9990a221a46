"""Link health without sockets: when pings go out, when a silent link is dead, quality levels."""

from __future__ import annotations

import pytest

from app.client.backoff import Heartbeat
from app.client.health import POOR_LATENCY, LinkHealth, LinkQuality, quality_for


def run_until_dead(health: LinkHealth, start: float, answered_until: float) -> float:
    """Drive ``health`` as the client does; the peer answers pings sent before
    ``answered_until`` at once and nothing after. Returns when the link is declared dead."""
    now = start
    for _ in range(10_000):
        if health.is_dead(now):
            return now
        if health.ping_due(now):
            health.ping_sent(now)
            if now < answered_until:
                health.pong_received(now + 0.001)
        now = health.next_check(now) if not health.ping_due(now) else now
    raise AssertionError("never declared dead")


@pytest.mark.parametrize("silent_from", [0.0, 0.3, 4.99, 5.0, 5.01, 7.77, 9.999])
def test_a_peer_gone_silent_is_declared_dead_within_twice_the_interval(silent_from: float) -> None:
    heartbeat = Heartbeat(interval=5.0)
    health = LinkHealth(heartbeat, now=0.0)

    dead_at = run_until_dead(health, 0.0, answered_until=silent_from)

    assert dead_at - health.last_answer_at <= 2 * heartbeat.interval
    assert dead_at - silent_from <= heartbeat.dead_within
    assert dead_at > silent_from


def test_the_first_ping_goes_out_at_once_and_then_every_interval() -> None:
    health = LinkHealth(Heartbeat(interval=2.0), now=100.0)

    assert health.ping_due(100.0)
    health.ping_sent(100.0)
    assert not health.ping_due(101.0)  # never two pings out at once
    health.pong_received(100.05)
    assert health.next_check(100.05) == 102.0
    assert not health.ping_due(101.99)
    assert health.ping_due(102.0)


def test_latency_is_smoothed_and_sets_the_quality() -> None:
    health = LinkHealth(Heartbeat(interval=1.0), now=0.0)
    assert health.quality(0.0) is None  # nothing measured yet

    health.ping_sent(0.0)
    assert health.pong_received(0.02) == pytest.approx(0.02)
    assert health.quality(0.02) is LinkQuality.GOOD

    # One slow answer does not make a good link look bad at once …
    health.ping_sent(1.0)
    health.pong_received(1.9)
    assert health.quality(1.9) is LinkQuality.GOOD
    # … but several do.
    for second in (2, 3, 4, 5):
        health.ping_sent(second)
        health.pong_received(second + 0.95)
    assert health.latency is not None and health.latency > 0.5
    assert health.quality(6.0) is LinkQuality.DEGRADED


def test_a_ping_unanswered_for_a_second_makes_the_link_poor_before_its_deadline() -> None:
    health = LinkHealth(Heartbeat(interval=20.0), now=0.0)
    health.ping_sent(0.0)
    health.pong_received(0.01)
    health.ping_sent(20.0)

    assert health.next_check(20.0) == 20.0 + POOR_LATENCY
    assert health.quality(20.5) is LinkQuality.GOOD
    assert health.quality(21.0) is LinkQuality.POOR
    assert not health.is_dead(39.9)
    assert health.is_dead(40.0)


@pytest.mark.parametrize(
    ("latency", "quality"),
    [(0.0, "good"), (0.299, "good"), (0.3, "degraded"), (0.99, "degraded"), (1.0, "poor")],
)
def test_quality_levels(latency: float, quality: str) -> None:
    assert quality_for(latency) == quality
