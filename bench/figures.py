"""What a benchmark returns: samples of ours and of a baseline, and the goals."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

GoalKind = Literal["max", "min", "max_ratio", "min_ratio"]


@dataclass(frozen=True)
class Goal:
    """``max``: our median ≤ limit; ``max_ratio``: ours/baseline ≤ limit; and so on."""

    kind: GoalKind
    limit: float

    def met(self, ours: float, ratio: float | None) -> bool | None:
        if self.kind == "max":
            return ours <= self.limit
        if self.kind == "min":
            return ours >= self.limit
        if ratio is None:
            return None
        return ratio <= self.limit if self.kind == "max_ratio" else ratio >= self.limit

    def describe(self, unit: str) -> str:
        symbol = "≤" if self.kind.startswith("max") else "≥"
        if self.kind.endswith("ratio"):
            return f"ratio {symbol} {self.limit:g}"
        return f"{symbol} {self.limit:g} {unit}"


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def spread(samples: Sequence[float]) -> tuple[float, float]:
    """(min, max) of the samples: honest about noise with few runs."""
    return (min(samples), max(samples))


@dataclass
class Figure:
    name: str
    unit: str
    ours: list[float]
    baseline: list[float] | None = None
    baseline_name: str = ""
    goals: list[Goal] = field(default_factory=list)
    note: str = ""

    @property
    def ours_median(self) -> float:
        return median(self.ours)

    @property
    def baseline_median(self) -> float | None:
        return median(self.baseline) if self.baseline else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        if base is None or base == 0:
            return None
        return self.ours_median / base

    @property
    def verdict(self) -> str:
        results = [goal.met(self.ours_median, self.ratio) for goal in self.goals]
        if not results:
            return "—"
        if any(result is False for result in results):
            return "miss"
        if any(result is None for result in results):
            return "n/a"
        return "pass"
