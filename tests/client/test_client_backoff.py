"""Backoff and heartbeat values."""

from __future__ import annotations

import random
from itertools import islice

import pytest
from pydantic import ValidationError

from app.client import Backoff, Heartbeat


def test_the_defaults_retry_within_a_second_and_cap_at_a_minute() -> None:
    policy = Backoff()

    assert (policy.initial, policy.maximum, policy.factor) == (0.5, 60.0, 2.0)
    first = [next(policy.delays(random.Random(seed))) for seed in range(500)]
    assert max(first) <= 1.0


def test_each_delay_is_full_jitter_under_a_doubling_ceiling() -> None:
    policy = Backoff(initial=0.5, maximum=60, factor=2)
    runs = [list(islice(policy.delays(random.Random(seed)), 12)) for seed in range(300)]

    for n in range(12):
        ceiling = min(60.0, 0.5 * 2**n)
        column = [run[n] for run in runs]
        assert all(0 <= delay <= ceiling for delay in column)
        # Spread over the whole range, not bunched at the ceiling (that is the jitter).
        assert min(column) < ceiling * 0.1
        assert max(column) > ceiling * 0.9


def test_delays_stay_capped_forever() -> None:
    delays = Backoff(maximum=5).delays(random.Random(7))

    assert all(0 <= d <= 5 for d in islice(delays, 5000))


def test_a_seeded_rng_gives_the_same_delays() -> None:
    policy = Backoff()

    assert list(islice(policy.delays(random.Random(42)), 8)) == list(
        islice(policy.delays(random.Random(42)), 8)
    )


def test_a_zero_policy_retries_at_once() -> None:
    assert set(islice(Backoff(initial=0, maximum=0).delays(), 50)) == {0.0}


@pytest.mark.parametrize(
    "values",
    [{"initial": -1}, {"maximum": 0.1, "initial": 0.5}, {"factor": 0.5}],
)
def test_nonsense_policies_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Backoff(**values)


def test_policies_are_frozen_values() -> None:
    assert Backoff() == Backoff()
    with pytest.raises(ValidationError):
        Backoff().initial = 3  # type: ignore[misc]
    assert Heartbeat() == Heartbeat(interval=20)
    assert Heartbeat().pong_timeout == 20
    with pytest.raises(ValidationError):
        Heartbeat(interval=0)


def test_a_dead_link_is_noticed_within_twice_the_interval() -> None:
    assert Heartbeat(interval=0.5).dead_within == 1.0
    assert Heartbeat(interval=10, timeout=2).dead_within == 12
    with pytest.raises(ValidationError, match="twice the interval"):
        Heartbeat(interval=1, timeout=3)
