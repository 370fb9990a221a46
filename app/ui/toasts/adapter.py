"""In-app toasts as a notification adapter: the first choice wherever windows can be placed."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtGui import QGuiApplication

from app.config.settings import AdapterName
from app.domain.notices import Notice
from app.ui.notifier import AdapterUnavailable, NotificationAdapter
from app.ui.toasts.manager import ToastManager

WAYLAND_PROBLEM = (
    "this is a Wayland session, where apps cannot place their own windows in a screen corner"
)


class InAppAdapter(NotificationAdapter):
    """Shows notices as the app's own toasts (:class:`ToastManager`).

    Unavailable on Wayland (``platform_name`` starts with ``wayland``): a toast
    could land anywhere there, so the desktop's own notifications are better.
    """

    name: ClassVar[AdapterName] = "in-app"

    def __init__(
        self,
        toasts: ToastManager,
        *,
        platform_name: Callable[[], str] = QGuiApplication.platformName,
    ) -> None:
        super().__init__(toasts)
        self._toasts = toasts
        self._platform_name = platform_name
        toasts.activated.connect(self.activated)

    def problem(self) -> str | None:
        if self._platform_name().lower().startswith("wayland"):
            return WAYLAND_PROBLEM
        return None

    def present(self, notice: Notice, key: str | None, *, link: str | None) -> None:
        problem = self.problem()
        if problem is not None:
            raise AdapterUnavailable(problem)
        self._toasts.show_notice(notice, key)

    def clear(self) -> None:
        self._toasts.clear()
