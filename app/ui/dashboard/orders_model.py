"""The orders table's model: every folded order, filtered and sorted in Python.

Sorting and filtering live in the model rather than in a ``QSortFilterProxyModel``:
the proxy compares rows through ``data()`` one call at a time, which for 10,000
orders is most of a second; a Python sort with a key is a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from app.domain.folding import Order, status_label
from app.domain.notices import format_amount
from app.ui.dashboard.times import short_time

Index = QModelIndex | QPersistentModelIndex
OrderKey = tuple[str, str]
"""(wallet, order id)."""

COLUMNS: Final = ("Order", "Placed", "Buyer", "Items", "Total", "Status", "Updated")
(ORDER, PLACED, BUYER, ITEMS, TOTAL, STATUS, UPDATED) = range(len(COLUMNS))

ORDER_KEY_ROLE: Final = Qt.ItemDataRole.UserRole + 1
"""``data(index, ORDER_KEY_ROLE)`` → the row's ``(wallet, order id)``."""

STATUS_COLOURS: Final = {
    "pending": "#8a8f98",
    "paid": "#2f7bf5",
    "processing": "#8e5cf0",
    "shipped": "#1a9bb0",
    "delivered": "#2e9d52",
    "cancelled": "#d0452f",
    "refunded": "#d08a1f",
}
"""Mid tones that read on light and dark backgrounds alike."""

_DISPLAY: Final = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP: Final = int(Qt.ItemDataRole.ToolTipRole.value)
_ALIGNMENT: Final = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND: Final = int(Qt.ItemDataRole.ForegroundRole.value)
_USED_ROLES: Final = frozenset({_DISPLAY, _TOOLTIP, _ALIGNMENT, _FOREGROUND, int(ORDER_KEY_ROLE)})
_RIGHT: Final = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_COLOURS: Final = {name: QColor(name) for name in STATUS_COLOURS.values()}
_ITEMS_SHOWN: Final = 2
_NO_AMOUNT: Final = Decimal("-Infinity")


def items_summary(order: Order) -> str:
    """``"2 × Mug, 1 × Tote +1 more"``; ``"—"`` while the order's items are unknown."""
    if not order.items:
        return "—"
    shown = ", ".join(f"{item.quantity} × {item.name}" for item in order.items[:_ITEMS_SHOWN])
    more = len(order.items) - _ITEMS_SHOWN
    return f"{shown} +{more} more" if more > 0 else shown


def total_text(order: Order) -> str:
    if order.total is None or order.currency is None:
        return "—"
    return format_amount(order.total, order.currency)


_SORT_KEYS: Final[dict[int, Callable[[Order], Any]]] = {
    ORDER: lambda order: order.order_id,
    PLACED: lambda order: order.placed_at,
    BUYER: lambda order: (order.buyer or "").casefold(),
    ITEMS: lambda order: items_summary(order).casefold(),
    TOTAL: lambda order: (
        order.total if order.total is not None else _NO_AMOUNT,
        order.currency or "",
    ),
    STATUS: lambda order: status_label(order.status).casefold(),
    UPDATED: lambda order: order.updated_at,
}


def _matches(order: Order, status: str | None, needle: str) -> bool:
    if status is not None and order.status != status:
        return False
    if not needle:
        return True
    haystack = " ".join(
        (order.order_id, order.buyer or "", order.status, *(item.name for item in order.items))
    )
    return needle in haystack.casefold()


class OrdersModel(QAbstractTableModel):
    """Orders as table rows, newest placed first unless sorted otherwise.

    Feed it :meth:`set_orders` (everything) and :meth:`upsert` (a batch of new or
    changed orders: one insert, one re-sort and one repaint per batch, with the
    selection kept). :meth:`set_status_filter` and :meth:`set_search` narrow the
    rows; :meth:`order_at` gives a row's order.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._orders: dict[OrderKey, Order] = {}
        self._rows: list[OrderKey] = []
        self._text: dict[OrderKey, tuple[str, ...]] = {}
        self._status: str | None = None
        self._needle = ""
        self._sort_column = PLACED
        self._sort_order = Qt.SortOrder.DescendingOrder
        self.batches = 0
        """How many times the rows were changed (one per :meth:`upsert` or reset)."""

    # --- Qt's model interface -------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every visible cell and every role on each repaint: answer the
        # roles this model does not use before touching the index at all.
        if role not in _USED_ROLES:
            return None
        row = index.row()
        if not 0 <= row < len(self._rows):
            return None
        key = self._rows[row]
        column = index.column()
        if role == _DISPLAY or role == _TOOLTIP:
            return self._texts(key)[column]
        if role == _ALIGNMENT:
            return _RIGHT if column == TOTAL else None
        if role == _FOREGROUND:
            colour = STATUS_COLOURS.get(self._orders[key].status) if column == STATUS else None
            return _COLOURS[colour] if colour else None
        return key  # ORDER_KEY_ROLE

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        before = list(self._rows)
        self._sort_rows()
        self._move_persistent(before)
        self.layoutChanged.emit()

    # --- feeding ----------------------------------------------------------------------

    def set_orders(self, orders: Iterable[Order]) -> None:
        """Show exactly ``orders`` (a reset: selection and scroll position start over)."""
        self.beginResetModel()
        self._orders = {(o.wallet, o.order_id): o for o in orders}
        self._text.clear()
        self._rows = self._visible_keys()
        self._sort_rows()
        self.batches += 1
        self.endResetModel()

    def upsert(self, orders: Iterable[Order]) -> None:
        """Add or replace a batch of orders; the rows stay filtered and sorted."""
        changed = {(o.wallet, o.order_id): o for o in orders}
        if not changed:
            return
        self.batches += 1
        for key, order in changed.items():
            self._orders[key] = order
            self._text.pop(key, None)
        visible = set(self._rows)
        leaving = [key for key in changed if key in visible and not self._visible(changed[key])]
        if leaving:
            self._remove(leaving)
        entering = [key for key, o in changed.items() if key not in visible and self._visible(o)]
        if entering:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(entering) - 1)
            self._rows.extend(entering)
            self.endInsertRows()
        self.sort(self._sort_column, self._sort_order)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )

    def set_status_filter(self, status: str | None) -> None:
        """Only orders whose latest status is ``status`` (None: every status)."""
        if status != self._status:
            self._status = status
            self._refilter()

    def set_search(self, text: str) -> None:
        """Only orders whose id, buyer, status or item names contain ``text`` (any case)."""
        needle = text.strip().casefold()
        if needle != self._needle:
            self._needle = needle
            self._refilter()

    # --- reading ----------------------------------------------------------------------

    def order_at(self, row: int) -> Order:
        return self._orders[self._rows[row]]

    def row_of(self, wallet: str, order_id: str) -> int | None:
        try:
            return self._rows.index((wallet, order_id))
        except ValueError:
            return None

    def visible_orders(self) -> list[Order]:
        """The rows' orders, top to bottom (what an export writes)."""
        return [self._orders[key] for key in self._rows]

    def all_orders(self) -> Sequence[Order]:
        """Every order the model holds, filtered out or not."""
        return list(self._orders.values())

    def statuses(self) -> list[str]:
        """The statuses orders have now, sorted by their label."""
        return sorted({o.status for o in self._orders.values()}, key=status_label)

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    # --- internals ----------------------------------------------------------------------

    def _visible(self, order: Order) -> bool:
        return _matches(order, self._status, self._needle)

    def _visible_keys(self) -> list[OrderKey]:
        if self._status is None and not self._needle:
            return list(self._orders)
        return [key for key, order in self._orders.items() if self._visible(order)]

    def _texts(self, key: OrderKey) -> tuple[str, ...]:
        texts = self._text.get(key)
        if texts is None:
            order = self._orders[key]
            texts = (
                order.order_id,
                short_time(order.placed_at),
                order.buyer or "—",
                items_summary(order),
                total_text(order),
                status_label(order.status),
                short_time(order.updated_at),
            )
            self._text[key] = texts
        return texts

    def _sort_rows(self) -> None:
        of, orders = _SORT_KEYS.get(self._sort_column, _SORT_KEYS[UPDATED]), self._orders
        # Ties (same time, same buyer …) fall back to the order id, so a re-sort
        # never shuffles equal rows around under the seller's eyes.
        self._rows.sort(
            key=lambda key: (of(orders[key]), key[1]),
            reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
        )

    def _move_persistent(self, before: list[OrderKey]) -> None:
        old = self.persistentIndexList()
        if not old:
            return
        position = {key: row for row, key in enumerate(self._rows)}
        new = []
        for index in old:
            row = index.row()
            key = before[row] if 0 <= row < len(before) else None
            target = position.get(key) if key is not None else None
            new.append(self.index(target, index.column()) if target is not None else QModelIndex())
        self.changePersistentIndexList(old, new)

    def _remove(self, keys: list[OrderKey]) -> None:
        doomed = set(keys)
        # Remove from the bottom up in contiguous runs: one signal per run.
        row = len(self._rows) - 1
        while row >= 0:
            if self._rows[row] not in doomed:
                row -= 1
                continue
            last = row
            while row - 1 >= 0 and self._rows[row - 1] in doomed:
                row -= 1
            self.beginRemoveRows(QModelIndex(), row, last)
            del self._rows[row : last + 1]
            self.endRemoveRows()
            row -= 1

    def _refilter(self) -> None:
        self.beginResetModel()
        self._rows = self._visible_keys()
        self._sort_rows()
        self.batches += 1
        self.endResetModel()
