"""One toast: a small frameless window that shows a notice without taking focus."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QEnterEvent, QMouseEvent
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
"""The accent strip's colour for each priority (grey, blue, amber, red)."""

_STYLE: Final = """
QFrame#toastCard {
    background: #fbfbfc;
    border: 1px solid #c9ccd2;
    border-radius: 6px;
}
QLabel#toastTitle { color: #15171a; font-weight: 600; }
QLabel#toastBody { color: #3b3f45; }
QToolButton#toastClose {
    border: none; color: #60646b; font-size: 14px; padding: 0 4px;
}
QToolButton#toastClose:hover { color: #15171a; }
"""


class Toast(QWidget):
    """A notice on screen: accent strip (priority colour), event icon, title, body, ×.

    Never takes focus (``WA_ShowWithoutActivating``, ``WindowDoesNotAcceptFocus``)
    so typing elsewhere is never interrupted. ``dismissed`` fires when the × is
    clicked, ``clicked`` when the rest is; ``hovered(bool)`` lets the manager hold
    the auto-hide timer while the pointer rests on the toast.
    """

    dismissed = Signal()
    clicked = Signal()
    hovered = Signal(bool)

    def __init__(self, notice: Notice, parent: QWidget | None = None) -> None:
        super().__init__(
            parent,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.notice = notice
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("toast")
        self.setWindowTitle(notice.title)
        self.setStyleSheet(_STYLE)
        self.setFixedWidth(TOAST_WIDTH)

        card = QFrame(self)
        card.setObjectName("toastCard")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(card)

        accent = QFrame(card)
        accent.setObjectName("toastAccent")
        accent.setFixedWidth(5)
        accent.setStyleSheet(
            f"background: {ACCENTS[notice.priority]}; border: none;"
            "border-top-left-radius: 6px; border-bottom-left-radius: 6px;"
        )

        icon = QLabel(card)
        icon.setObjectName("toastIcon")
        icon.setPixmap(svg_pixmap(notice.icon, ICON_SIZE))
        icon.setFixedSize(ICON_SIZE, ICON_SIZE)
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)

        self.title_label = QLabel(notice.title, card)
        self.title_label.setObjectName("toastTitle")
        self.title_label.setWordWrap(True)
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.body_label = QLabel(notice.body, card)
        self.body_label.setObjectName("toastBody")
        self.body_label.setWordWrap(True)
        # Marketplace text is data, never markup.
        self.body_label.setTextFormat(Qt.TextFormat.PlainText)
        self.body_label.setVisible(bool(notice.body))

        self.close_button = QToolButton(card)
        self.close_button.setObjectName("toastClose")
        self.close_button.setText("×")
        self.close_button.setToolTip("Dismiss")
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
        row.addWidget(accent)
        content = QHBoxLayout()
        content.setContentsMargins(0, 10, 0, 10)
        content.setSpacing(10)
        content.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        content.addLayout(texts, 1)
        row.addLayout(content, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

        # The height that fits the wrapped text at the fixed width, with the
        # style sheet's fonts applied (a bold title wraps sooner).
        for widget in (self, self.title_label, self.body_label, self.close_button):
            widget.ensurePolished()
        self.setFixedHeight(self.heightForWidth(TOAST_WIDTH))

    @property
    def accent_colour(self) -> str:
        """The accent strip's colour (``#rrggbb``), from the notice's priority."""
        return ACCENTS[self.notice.priority]

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
