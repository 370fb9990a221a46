"""Where a notice goes: the dashboard always, a toast unless paused or silent."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from app.domain.notices import LostRange, Notice, describe, describe_gap
from app.protocol.frames import EventFrame
from app.ui.dashboard import DashboardWindow
from app.ui.toasts import ToastManager

log = logging.getLogger("seller_notifier.ui")


class Notifier(QObject):
    """Turns delivered events into what the seller sees.

    Connect ``ClientBridge.event_received`` to :meth:`present_event` and
    ``gap_detected`` to :meth:`present_gap`. Every event is listed in the
    dashboard; a toast shows unless the notice is silent or notifications are
    paused (pausing also clears the toasts already waiting). :meth:`notify` is
    for the app's own notices (not configured, sign-in refused …).
    """

    def __init__(
        self,
        toasts: ToastManager,
        dashboard: DashboardWindow | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._toasts = toasts
        self._dashboard = dashboard
        self._paused = False
        self.events_seen = 0

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        if paused:
            self._toasts.clear()
        log.info("notifications %s", "paused" if paused else "resumed")

    def present_event(self, frame: EventFrame) -> None:
        notice = describe(frame)
        self.events_seen += 1
        if self.events_seen == 1:
            log.info("first event received: %s (seq %d)", notice.kind, frame.seq)
        log.debug("event seq=%d type=%s: %s", frame.seq, notice.kind, notice.title)
        if self._dashboard is not None:
            self._dashboard.add_event(frame)
        if not self._paused:
            self._toasts.show_notice(notice)

    def present_gap(self, gap: LostRange) -> None:
        self.notify(describe_gap(gap), even_if_paused=True)

    def notify(self, notice: Notice, *, even_if_paused: bool = False) -> None:
        """Show one of the app's own notices (logged too, for a headless run)."""
        log.info("notice: %s%s", notice.title, f" — {notice.body}" if notice.body else "")
        if even_if_paused or not self._paused:
            self._toasts.show_notice(notice)
