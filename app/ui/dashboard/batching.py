"""Coalescing live updates: many events in, at most one model update per interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Generic, TypeVar

from PySide6.QtCore import QObject, QTimer

T = TypeVar("T")

INTERVAL_MS: Final = 100
"""Under a burst, the dashboard repaints at most this often."""


class UpdateBatcher(QObject, Generic[T]):
    """Collects items and hands them to ``flush(items)`` in one batch.

    The first item after a flush starts a single-shot timer of ``interval_ms``;
    everything that arrives until it fires goes into the same batch. So a burst of
    a thousand events costs one update per interval, and a lone event is shown
    within one interval. :meth:`flush_now` applies what is waiting at once.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], object],
        interval_ms: int = INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._flush = flush
        self._pending: list[T] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush_now)
        self.flushes = 0
        """How many batches were handed over (tests count updates with it)."""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, item: T) -> None:
        self._pending.append(item)
        if not self._timer.isActive():
            self._timer.start()

    def flush_now(self) -> None:
        """Hand over what is waiting now (nothing happens if nothing waits)."""
        self._timer.stop()
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.flushes += 1
        self._flush(batch)

    def stop(self) -> None:
        """Drop what is waiting and stop the timer (before the window goes away)."""
        self._timer.stop()
        self._pending = []
