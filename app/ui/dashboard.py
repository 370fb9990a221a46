"""The dashboard: every received event, newest first, in a plain window."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.notices import Notice, Priority, describe, kind_label
from app.protocol.frames import EventFrame
from app.ui.icons import svg_icon
from app.ui.toasts.toast import ACCENTS

log = logging.getLogger("seller_notifier.ui")

COLUMNS: Final = ("Time", "Type", "Event", "Seq")
MAX_ROWS: Final = 1000
"""Older rows fall off the bottom; the store keeps everything."""

RecentEvents = Callable[[int], list[EventFrame]]
"""Returns up to N stored events, newest first (``ClientStore.recent``)."""


class DashboardWindow(QWidget):
    """A window listing events: time, type, title and body, seq; newest on top.

    Give it ``recent`` (e.g. ``lambda n: store.recent(n)``): the first
    :meth:`open` loads the stored history, :meth:`add_event` (connected to
    ``ClientBridge.event_received``) adds live ones; an event already listed
    (same wallet and id) is not added twice. Closing the window only hides it.
    """

    def __init__(self, recent: RecentEvents | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._recent = recent
        self._loaded = False
        self._seen: set[tuple[str, str]] = set()
        self.setWindowTitle("Seller Notifier — events")
        self.setWindowIcon(svg_icon("seller-notifier"))
        self.resize(820, 480)

        self._summary = QLabel("No events yet.", self)
        self._table = QTableWidget(0, len(COLUMNS), self)
        self._table.setObjectName("events")
        self._table.setHorizontalHeaderLabels(list(COLUMNS))
        self._table.verticalHeader().setVisible(False)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Rows hold title and body on their own lines; no wrapping keeps heights even.
        self._table.setWordWrap(False)
        header = self._table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)

        layout = QVBoxLayout(self)
        layout.addWidget(self._summary)
        layout.addWidget(self._table, 1)

    # --- public -------------------------------------------------------------------

    def open(self) -> None:
        """Show the window in front (loading the stored history the first time)."""
        if not self._loaded:
            self.reload()
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def reload(self) -> None:
        """Replace the rows with the store's newest events."""
        self._loaded = True
        self._table.setRowCount(0)
        self._seen.clear()
        if self._recent is None:
            return
        try:
            frames = self._recent(MAX_ROWS)
        except Exception:  # a broken store must not take the window down
            log.exception("could not read the stored events")
            frames = []
        # The store gives newest first; insert oldest first so the newest ends on top.
        self._add_frames(reversed(frames))

    def add_event(self, frame: EventFrame) -> None:
        """Put a live event on top (ignored if it is already listed)."""
        self._add_frames([frame])

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The table's text, top row first (what a person sees)."""

        def text(row: int, column: int) -> str:
            item = self._table.item(row, column)
            return item.text() if item is not None else ""

        return [
            (text(r, 0), text(r, 1), text(r, 2), text(r, 3)) for r in range(self._table.rowCount())
        ]

    def closeEvent(self, event: QCloseEvent) -> None:
        # The app lives in the tray: closing the window only hides it.
        event.ignore()
        self.hide()

    # --- internals ----------------------------------------------------------------

    def _add_frames(self, frames: Iterable[EventFrame]) -> None:
        for frame in frames:
            key = (frame.wallet, frame.id)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._insert(frame, describe(frame))
        while self._table.rowCount() > MAX_ROWS:
            self._table.removeRow(self._table.rowCount() - 1)
        count = len(self._seen)
        self._summary.setText(f"{count} event{'s' if count != 1 else ''} received.")

    def _insert(self, frame: EventFrame, notice: Notice) -> None:
        # Events arrive in order, but a replay can interleave with older history:
        # keep the table sorted by (time, seq), newest first.
        row = self._row_for(frame)
        self._table.insertRow(row)
        time_item = QTableWidgetItem(_format_time(frame.ts))
        time_item.setData(Qt.ItemDataRole.UserRole, (frame.ts, frame.seq))
        type_item = QTableWidgetItem(svg_icon(notice.icon), kind_label(notice.kind))
        type_item.setToolTip(notice.kind)
        text = notice.title + (f"\n{notice.body}" if notice.body else "")
        event_item = QTableWidgetItem(text)
        event_item.setToolTip(text)
        if notice.priority in (Priority.HIGH, Priority.URGENT):
            event_item.setForeground(QColor(ACCENTS[notice.priority]).darker(130))
        seq_item = QTableWidgetItem(str(frame.seq))
        seq_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for column, item in enumerate((time_item, type_item, event_item, seq_item)):
            self._table.setItem(row, column, item)
        self._table.resizeRowToContents(row)

    def _row_for(self, frame: EventFrame) -> int:
        key = (frame.ts, frame.seq)
        for row in range(self._table.rowCount()):
            item = self._table.item(row, 0)
            existing = item.data(Qt.ItemDataRole.UserRole) if item else None
            if existing is None or key >= existing:
                return row
        return self._table.rowCount()


def _format_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
