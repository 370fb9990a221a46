"""The activity list: the notification history, newest first, unread ones in bold."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.domain.notices import Priority, kind_label
from app.store.history import StoredNotice
from app.ui.dashboard.times import short_time
from app.ui.icons import svg_pixmap
from app.ui.toasts.toast import ACCENTS

Index = QModelIndex | QPersistentModelIndex

NOTICE_ROLE: Final = Qt.ItemDataRole.UserRole + 1
"""``data(index, NOTICE_ROLE)`` → the row's :class:`StoredNotice`."""
MAX_ROWS: Final = 200
"""Older notices stay in the store; the list shows the newest."""
ICON_SIZE: Final = 24
_PADDING: Final = 6


class ActivityModel(QAbstractListModel):
    """Stored notices as list rows, newest first (at most :data:`MAX_ROWS`)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[StoredNotice] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        stored = self._rows[index.row()]
        notice = stored.notice
        if role == Qt.ItemDataRole.DisplayRole:
            return notice.title
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            state = "" if stored.read else "Unread. "
            when = short_time(notice.ts) if notice.ts else ""
            body = f"\n{notice.body}" if notice.body else ""
            return f"{state}{kind_label(notice.kind)} {when}: {notice.title}{body}"
        if role == NOTICE_ROLE:
            return stored
        return None

    # --- feeding ------------------------------------------------------------------------

    def set_notices(self, notices: Iterable[StoredNotice]) -> None:
        self.beginResetModel()
        self._rows = list(notices)[:MAX_ROWS]
        self.endResetModel()

    def prepend(self, notices: Collection[StoredNotice]) -> None:
        """Put newer notices (newest first) on top; the oldest rows fall off the end."""
        known = {stored.id for stored in self._rows}
        fresh = [stored for stored in notices if stored.id not in known]
        if not fresh:
            return
        self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
        self._rows[:0] = fresh
        self.endInsertRows()
        if len(self._rows) > MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), MAX_ROWS, len(self._rows) - 1)
            del self._rows[MAX_ROWS:]
            self.endRemoveRows()

    def mark_read(self, ids: Collection[int] | None = None) -> None:
        """Show these notices (None: all) as read."""
        for row, stored in enumerate(self._rows):
            if not stored.read and (ids is None or stored.id in ids):
                self._rows[row] = StoredNotice(stored.id, stored.notice, True)
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def notice_at(self, row: int) -> StoredNotice:
        return self._rows[row]

    @property
    def newest_id(self) -> int:
        return max((stored.id for stored in self._rows), default=0)


class ActivityDelegate(QStyledItemDelegate):
    """Paints a notice as an icon, a title (bold while unread) and a muted second line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        metrics = QFontMetrics(option.font)
        return QSize(200, max(ICON_SIZE, 2 * metrics.height()) + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        stored = index.data(NOTICE_ROLE)
        if not isinstance(stored, StoredNotice):
            super().paint(painter, option, index)
            return
        notice = stored.notice
        rect: QRect = option.rect
        palette: QPalette = option.palette
        state = option.state
        widget = option.widget
        style = widget.style() if isinstance(widget, QWidget) else None
        painter.save()
        if style is not None:
            # The selection and focus frame as the platform draws them.
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget
            )
        selected = bool(state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        if not stored.read:
            accent = ACCENTS.get(notice.priority, ACCENTS[Priority.NORMAL])
            painter.fillRect(QRect(rect.left(), rect.top() + 4, 3, rect.height() - 8), accent)
        icon_top = rect.top() + (rect.height() - ICON_SIZE) // 2
        painter.drawPixmap(rect.left() + 2 * _PADDING, icon_top, svg_pixmap(notice.icon, ICON_SIZE))
        left = rect.left() + 3 * _PADDING + ICON_SIZE
        width = rect.right() - left - _PADDING
        base: QFont = option.font
        title_font = QFont(base)
        title_font.setBold(not stored.read)
        line = QFontMetrics(base).height()
        top = rect.top() + (rect.height() - 2 * line) // 2
        when = short_time(notice.ts) if notice.ts else ""
        when_width = QFontMetrics(base).horizontalAdvance(when) + _PADDING
        painter.setFont(title_font)
        painter.setPen(palette.color(text_role))
        title = QFontMetrics(title_font).elidedText(
            notice.title, Qt.TextElideMode.ElideRight, width - when_width
        )
        painter.drawText(
            QRect(left, top, width - when_width, line), Qt.AlignmentFlag.AlignLeft, title
        )
        painter.setFont(base)
        muted = palette.color(text_role)
        if not selected:
            muted = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(muted)
        painter.drawText(QRect(left, top, width, line), Qt.AlignmentFlag.AlignRight, when)
        second = " · ".join(
            part for part in (kind_label(notice.kind), _one_line(notice.body)) if part
        )
        second = QFontMetrics(base).elidedText(second, Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRect(left, top + line, width, line), Qt.AlignmentFlag.AlignLeft, second)
        painter.restore()


def _one_line(text: str) -> str:
    return " ".join(text.split())
