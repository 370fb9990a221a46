"""Stacks toasts in a screen corner: at most ``max_visible`` at once, the rest wait in order."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final

from PySide6.QtCore import QObject, QRect, QTimer, Signal
from PySide6.QtGui import QGuiApplication

from app.config.settings import Corner
from app.domain.notices import Notice, Priority, app_notice
from app.ui.toasts.layout import CORNERS, DEFAULT_CORNER, Rect, toast_geometry
from app.ui.toasts.toast import Toast

log = logging.getLogger("seller_notifier.ui")

_FALLBACK_SCREEN: Final = QRect(0, 0, 1280, 800)
"""Used when Qt reports no screen at all (a display that went away)."""


def primary_available_geometry() -> QRect:
    """The primary screen's area without panels and docks."""
    return available_geometry(None)


def available_geometry(screen_name: str | None) -> QRect:
    """The area without panels and docks of the screen called ``screen_name``
    (``QScreen.name()``); the primary screen if None or no longer connected."""
    screen = None
    if screen_name:
        screen = next((s for s in QGuiApplication.screens() if s.name() == screen_name), None)
    if screen is None:
        screen = QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(_FALLBACK_SCREEN)


class ToastManager(QObject):
    """Shows notices as toasts in one corner of the screen.

    ``show_notice`` shows a toast at once while fewer than ``max_visible`` are on
    screen, otherwise queues it; queued notices appear in arrival order as shown
    ones close (× clicked, or ``auto_hide_seconds`` elapsed when ``auto_hide``;
    hovering holds the timer). ``urgent`` notices stay until dismissed. Silent
    notices are ignored. A notice shown with a ``key`` replaces the toast (or the
    queued notice) with the same key in place, and its timer starts again: a
    burst summary that keeps counting.
    If more than ``max_queued`` wait, the oldest waiting ones are dropped and a
    single "N more notifications" toast stands for them, so a replay after a long
    absence never floods the screen.

    Signals: ``shown(Notice)``, ``hidden(Notice)``, ``activated(Notice)`` (toast
    clicked). Call :meth:`close` before the application quits.
    """

    shown = Signal(object)
    hidden = Signal(object)
    activated = Signal(object)

    def __init__(
        self,
        *,
        position: Corner = DEFAULT_CORNER,
        max_visible: int = 4,
        auto_hide_seconds: float = 6.0,
        auto_hide: bool = True,
        screen_geometry: Callable[[], QRect] = primary_available_geometry,
        margin: int = 16,
        spacing: int = 8,
        max_queued: int = 50,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._screen_geometry = screen_geometry
        self._margin = margin
        self._spacing = spacing
        self._max_queued = max(1, max_queued)
        self._visible: list[Toast] = []
        self._timers: dict[Toast, QTimer] = {}
        self._queue: deque[tuple[Notice, str | None]] = deque()
        self._dropped = 0
        self._position: Corner = DEFAULT_CORNER
        self._max_visible = 1
        self._auto_hide_ms = 0
        self._auto_hide = True
        self.configure(
            position=position,
            max_visible=max_visible,
            auto_hide_seconds=auto_hide_seconds,
            auto_hide=auto_hide,
        )

    # --- public -------------------------------------------------------------------

    @property
    def visible_toasts(self) -> list[Toast]:
        """Toasts on screen, oldest (nearest the corner) first."""
        return list(self._visible)

    @property
    def queued(self) -> list[Notice]:
        """Notices waiting for a free slot, in the order they will be shown."""
        return [notice for notice, _key in self._queue]

    @property
    def position(self) -> Corner:
        return self._position

    @property
    def max_visible(self) -> int:
        return self._max_visible

    @property
    def auto_hide_ms(self) -> int | None:
        """Milliseconds a toast stays when not hovered; None when toasts stay until dismissed."""
        return self._auto_hide_ms if self._auto_hide else None

    def configure(
        self,
        *,
        position: Corner,
        max_visible: int,
        auto_hide_seconds: float,
        auto_hide: bool = True,
        screen_geometry: Callable[[], QRect] | None = None,
    ) -> None:
        """Apply new settings at once: toasts on screen move (to another corner or
        screen), queued ones fill new slots, timers follow the new duration."""
        if position not in CORNERS:
            log.warning("unknown toast position %r; using %s", position, DEFAULT_CORNER)
            position = DEFAULT_CORNER
        if screen_geometry is not None:
            self._screen_geometry = screen_geometry
        self._position = position
        self._max_visible = max(1, max_visible)
        self._auto_hide_ms = max(1, round(auto_hide_seconds * 1000))
        self._auto_hide = auto_hide
        for toast, timer in self._timers.items():
            timer.setInterval(self._auto_hide_ms)
            if not self._times_out(toast):
                timer.stop()
            elif not timer.isActive() and not toast.underMouse():
                timer.start()
        self._fill()
        self._reflow()

    def show_notice(self, notice: Notice, key: str | None = None) -> bool:
        """Show or queue ``notice``; False if it is silent (never shown as a toast).

        With ``key``, a toast or queued notice shown earlier with the same key is
        replaced in place instead of a new one being added.
        """
        if notice.silent:
            return False
        if key is not None and self._replace(notice, key):
            return True
        if len(self._visible) < self._max_visible and not self._queue:
            self._display(notice, key)
        else:
            if len(self._queue) >= self._max_queued:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append((notice, key))
        return True

    def dismiss(self, toast: Toast) -> None:
        """Close ``toast`` now, as if its × had been clicked."""
        self._remove(toast)

    def clear(self) -> None:
        """Close every toast and forget the queue (e.g. when notifications are paused)."""
        self._queue.clear()
        self._dropped = 0
        for toast in list(self._visible):
            self._remove(toast, refill=False)

    def close(self) -> None:
        """Close everything and stop every timer; the manager is unusable afterwards."""
        self.clear()

    # --- internals ----------------------------------------------------------------

    def _replace(self, notice: Notice, key: str) -> bool:
        for toast in self._visible:
            if toast.key == key:
                toast.set_notice(notice)
                timer = self._timers[toast]
                timer.stop()
                if self._times_out(toast) and not toast.underMouse():
                    timer.start()
                self._reflow()
                self.shown.emit(notice)
                return True
        for index, (_queued, queued_key) in enumerate(self._queue):
            if queued_key == key:
                self._queue[index] = (notice, key)
                return True
        return False

    def _times_out(self, toast: Toast) -> bool:
        return self._auto_hide and toast.notice.priority is not Priority.URGENT

    def _display(self, notice: Notice, key: str | None = None) -> None:
        toast = Toast(notice, key=key)
        toast.dismissed.connect(partial(self._remove, toast))
        toast.clicked.connect(partial(self._activate, toast))
        toast.hovered.connect(partial(self._hover, toast))
        timer = QTimer(toast)
        timer.setSingleShot(True)
        timer.setInterval(self._auto_hide_ms)
        timer.timeout.connect(partial(self._remove, toast))
        self._timers[toast] = timer
        self._visible.append(toast)
        self._reflow()
        toast.show()
        if self._times_out(toast):
            timer.start()
        self.shown.emit(notice)

    def _remove(self, toast: Toast, *, refill: bool = True) -> None:
        if toast not in self._visible:
            return  # already gone: a timer and a click can race
        self._visible.remove(toast)
        timer = self._timers.pop(toast)
        timer.stop()
        # Disconnect before deleting: a queued signal must not reach a deleted toast.
        for signal in (toast.dismissed, toast.clicked, toast.hovered, timer.timeout):
            signal.disconnect()
        toast.hide()
        toast.deleteLater()
        self.hidden.emit(toast.notice)
        if refill:
            self._fill()
            self._reflow()

    def _fill(self) -> None:
        while len(self._visible) < self._max_visible:
            if self._queue:
                self._display(*self._queue.popleft())
            elif self._dropped:
                count, self._dropped = self._dropped, 0
                self._display(
                    app_notice(
                        f"{count} more notification{'s' if count != 1 else ''}",
                        "Too many arrived at once to show them all; "
                        "the dashboard lists every event.",
                    )
                )
            else:
                break

    def _reflow(self) -> None:
        if not self._visible:
            return
        area = self._screen_geometry()
        rects = toast_geometry(
            self._position,
            Rect(area.x(), area.y(), area.width(), area.height()),
            [(t.width(), t.height()) for t in self._visible],
            margin=self._margin,
            spacing=self._spacing,
        )
        for toast, rect in zip(self._visible, rects, strict=True):
            toast.move(rect.x, rect.y)

    def _activate(self, toast: Toast) -> None:
        notice = toast.notice
        self._remove(toast)
        self.activated.emit(notice)

    def _hover(self, toast: Toast, inside: bool) -> None:
        timer = self._timers.get(toast)
        if timer is None or not self._times_out(toast):
            return
        if inside:
            timer.stop()
        else:
            timer.start()
