"""One toast: a small frameless window that shows a notice without taking focus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QEnterEvent, QGuiApplication, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.notices import Notice, Priority
from app.ui.icons import svg_pixmap

TOAST_WIDTH: Final = 360
ICON_SIZE: Final = 32

ACCENTS: Final[dict[Priority, str]] = {
    Priority.LOW: "#8a8f98",
    Priority.NORMAL: "#2f7bf5",
    Priority.HIGH: "#f0a020",
    Priority.URGENT: "#e0352b",
}
"""The accent strip's colour for each priority (grey, blue, amber, red): mid tones
that read on light and dark cards alike."""


@dataclass(frozen=True)
class Theme:
    """The card's colours in one palette (light or dark)."""

    name: str
    background: str
    border: str
    title: str
    body: str
    quiet: str
    """Body text of low-priority notices, and the × at rest."""


LIGHT: Final = Theme("light", "#fbfbfc", "#c9ccd2", "#15171a", "#3b3f45", "#6a6e75")
DARK: Final = Theme("dark", "#2b2d31", "#4a4d54", "#f2f3f5", "#c9ccd1", "#9a9ea6")


def system_is_dark() -> bool:
    """Whether the desktop uses a dark colour scheme (Qt's hint, else the palette)."""
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def toast_style(theme: Theme, priority: Priority) -> str:
    """The style sheet of a toast for ``priority`` in ``theme``."""
    accent = ACCENTS[priority]
    urgent = priority is Priority.URGENT
    border = f"2px solid {accent}" if urgent else f"1px solid {theme.border}"
    weight = {Priority.LOW: 500, Priority.NORMAL: 600, Priority.HIGH: 700, Priority.URGENT: 700}
    body = theme.quiet if priority is Priority.LOW else theme.body
    return f"""
QFrame#toastCard {{
    background: {theme.background};
    border: {border};
    border-radius: 6px;
}}
QLabel#toastTitle {{ color: {theme.title}; font-weight: {weight[priority]}; }}
QLabel#toastBody {{ color: {body}; }}
QToolButton#toastClose {{
    border: none; color: {theme.quiet}; font-size: 14px; padding: 0 4px;
}}
QToolButton#toastClose:hover {{ color: {theme.title}; }}
"""


class Toast(QWidget):
    """A notice on screen: accent strip (priority colour), event icon, title, body, ×.

    Never takes focus (``WA_ShowWithoutActivating``, ``WindowDoesNotAcceptFocus``)
    so typing elsewhere is never interrupted. ``dismissed`` fires when the × is
    clicked, ``clicked`` when the rest is; ``hovered(bool)`` lets the manager hold
    the auto-hide timer while the pointer rests on the toast. Colours follow the
    system's light or dark scheme, also when it changes while the toast is shown.
    :meth:`set_notice` replaces the content in place (a summary being updated).
    """

    dismissed = Signal()
    clicked = Signal()
    hovered = Signal(bool)

    def __init__(
        self, notice: Notice, parent: QWidget | None = None, *, key: str | None = None
    ) -> None:
        super().__init__(
            parent,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.notice = notice
        self.key = key
        self._theme: Theme | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("toast")
        self.setFixedWidth(TOAST_WIDTH)

        card = QFrame(self)
        card.setObjectName("toastCard")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(card)

        self._accent = QFrame(card)
        self._accent.setObjectName("toastAccent")
        self._accent.setFixedWidth(5)

        self._icon = QLabel(card)
        self._icon.setObjectName("toastIcon")
        self._icon.setFixedSize(ICON_SIZE, ICON_SIZE)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)

        self.title_label = QLabel(card)
        self.title_label.setObjectName("toastTitle")
        self.title_label.setWordWrap(True)
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.body_label = QLabel(card)
        self.body_label.setObjectName("toastBody")
        self.body_label.setWordWrap(True)
        # Marketplace text is data, never markup.
        self.body_label.setTextFormat(Qt.TextFormat.PlainText)

        self.close_button = QToolButton(card)
        self.close_button.setObjectName("toastClose")
        self.close_button.setText("×")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss notification")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.close_button.clicked.connect(self.dismissed)

        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.title_label)
        texts.addWidget(self.body_label)
        texts.addStretch(1)

        row = QHBoxLayout(card)
        row.setContentsMargins(0, 0, 6, 0)
        row.setSpacing(10)
        row.addWidget(self._accent)
        content = QHBoxLayout()
        content.setContentsMargins(0, 10, 0, 10)
        content.setSpacing(10)
        content.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        content.addLayout(texts, 1)
        row.addLayout(content, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

        self.set_notice(notice)

    # --- content --------------------------------------------------------------------

    @property
    def accent_colour(self) -> str:
        """The accent strip's colour (``#rrggbb``), from the notice's priority."""
        return ACCENTS[self.notice.priority]

    @property
    def theme(self) -> Theme:
        """The palette the toast is drawn in now."""
        return self._theme or LIGHT

    def set_notice(self, notice: Notice) -> None:
        """Show ``notice`` instead of the current one, in place (the height follows)."""
        self.notice = notice
        self.setWindowTitle(notice.title)
        self.setAccessibleName(f"{notice.priority.value} notification: {notice.title}")
        self.setAccessibleDescription(notice.body)
        self.setToolTip("Click to open" if notice.order_id else "Click to open the dashboard")
        self._icon.setPixmap(svg_pixmap(notice.icon, ICON_SIZE))
        self.title_label.setText(notice.title)
        self.body_label.setText(notice.body)
        self.body_label.setVisible(bool(notice.body))
        self._accent.setStyleSheet(
            f"background: {ACCENTS[notice.priority]}; border: none;"
            "border-top-left-radius: 6px; border-bottom-left-radius: 6px;"
        )
        self._apply_theme(force=True)

    def _apply_theme(self, *, force: bool = False) -> None:
        theme = DARK if system_is_dark() else LIGHT
        if theme is self._theme and not force:
            return
        self._theme = theme
        self.setStyleSheet(toast_style(theme, self.notice.priority))
        # The height that fits the wrapped text at the fixed width, with the
        # style sheet's fonts applied (a bold title wraps sooner).
        for widget in (self, self.title_label, self.body_label, self.close_button):
            widget.ensurePolished()
        self.setFixedHeight(self.heightForWidth(TOAST_WIDTH))

    # --- events ---------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.ThemeChange,
        ):
            self._apply_theme()
        super().changeEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def enterEvent(self, event: QEnterEvent) -> None:
        self.hovered.emit(True)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self.hovered.emit(False)
        super().leaveEvent(event)
