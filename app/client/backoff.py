"""Reconnect timing as values: the backoff policy and the heartbeat settings.

Both are frozen pydantic models so they can come from settings, be compared and
be passed around; tests pass ``Backoff(initial=0, maximum=0)`` to retry at once
instead of sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Backoff(BaseModel):
    """Exponential backoff with full jitter (AWS architecture blog, 2015).

    The n-th delay (n from 0) is drawn uniformly from
    ``[0, min(maximum, initial * factor ** n)]``: many clients cut off by the same
    gateway restart spread their reconnects instead of arriving together.
    """

    model_config = ConfigDict(frozen=True)

    initial: float = Field(default=0.5, ge=0)
    """Upper bound of the first delay, in seconds: small, so a blip heals fast."""
    maximum: float = Field(default=60.0, ge=0)
    """No delay is ever longer than this, in seconds."""
    factor: float = Field(default=2.0, ge=1)

    @model_validator(mode="after")
    def _maximum_covers_initial(self) -> Self:
        if self.maximum < self.initial:
            raise ValueError("maximum must be at least initial")
        return self

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """An endless iterator of delays in seconds; start a new one to reset.

        ``rng``: a seeded ``random.Random`` makes the sequence reproducible.
        """
        draw = rng if rng is not None else random.Random()
        ceiling = self.initial
        while True:
            yield draw.uniform(0, ceiling)
            # Stop growing once capped: factor ** n would overflow a float eventually.
            ceiling = min(self.maximum, ceiling * self.factor)


class Heartbeat(BaseModel):
    """Link health checks: a ping every ``interval`` s, each answered within ``timeout`` s.

    ``timeout`` defaults to ``interval`` and may not exceed it, so a link that goes
    silent (a peer that stops answering without closing TCP) is declared dead at
    most :attr:`dead_within` = ``interval + timeout`` ≤ 2 × ``interval`` seconds
    after its last answer.
    """

    model_config = ConfigDict(frozen=True)

    interval: float = Field(default=20.0, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    """Seconds a ping may stay unanswered; None: the same as ``interval``."""

    @model_validator(mode="after")
    def _deadline_within_interval(self) -> Self:
        if self.timeout is not None and self.timeout > self.interval:
            raise ValueError(
                "timeout may not exceed interval: a dead link must be noticed "
                "within twice the interval"
            )
        return self

    @property
    def pong_timeout(self) -> float:
        """Seconds each ping may stay unanswered before the link is declared dead."""
        return self.interval if self.timeout is None else self.timeout

    @property
    def dead_within(self) -> float:
        """The longest a silent link goes unnoticed, in seconds (≤ 2 × interval)."""
        return self.interval + self.pong_timeout
