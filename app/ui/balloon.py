"""The tray icon's balloon message as a notification adapter: the last resort.

``QSystemTrayIcon.showMessage`` goes to the desktop's notification service when
the tray is a StatusNotifierItem host, or is drawn by Qt as a balloon next to an
XEmbed tray icon. Only one message shows at a time (a new one replaces the
previous), which is also how a summary is "replaced in place" here. A click on
the message opens the last notice shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtWidgets import QSystemTrayIcon

from app.config.settings import AdapterName, NotificationSettings
from app.domain.notices import Notice, Priority
from app.ui.connections import disconnect_all
from app.ui.icons import svg_icon
from app.ui.notifier import AdapterUnavailable, NotificationAdapter


class BalloonAdapter(NotificationAdapter):
    """Shows notices as the tray icon's message (``tray_available`` is a seam for tests)."""

    name: ClassVar[AdapterName] = "tray"

    def __init__(
        self,
        tray: QSystemTrayIcon,
        *,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
    ) -> None:
        super().__init__(tray)
        self._tray = tray
        self._tray_available = tray_available
        self._last: Notice | None = None
        self._milliseconds = 6000
        self._sticky = False
        tray.messageClicked.connect(self._clicked)

    def problem(self) -> str | None:
        if not self._tray_available():
            return "this desktop has no system tray"
        if not self._tray.isVisible():
            return "the tray icon is not shown"
        if not QSystemTrayIcon.supportsMessages():
            return "this desktop's tray cannot show messages"
        return None

    def configure(self, settings: NotificationSettings) -> None:
        self._milliseconds = round(settings.auto_hide_seconds * 1000)
        self._sticky = not settings.auto_hide

    def present(self, notice: Notice, key: str | None, *, link: str | None) -> None:
        problem = self.problem()
        if problem is not None:
            raise AdapterUnavailable(problem)
        self._last = notice
        # 0 ms: the desktop decides (balloons cannot be made to stay for ever).
        sticky = self._sticky or notice.priority is Priority.URGENT
        self._tray.showMessage(
            notice.title, notice.body, svg_icon(notice.icon), 0 if sticky else self._milliseconds
        )

    def close(self) -> None:
        self._last = None
        disconnect_all(self._tray.messageClicked)

    def _clicked(self) -> None:
        if self._last is not None:
            self.activated.emit(self._last)
