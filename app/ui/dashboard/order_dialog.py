"""One order in detail: what was bought, by whom, what happened to it since."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.folding import Order, Payment, Review, status_label
from app.domain.notices import describe, format_amount, short_hash, stars
from app.protocol.frames import EventFrame
from app.ui.dashboard.orders_model import STATUS_COLOURS, total_text
from app.ui.dashboard.times import clock
from app.ui.icons import svg_icon


def _label(text: str, name: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setAccessibleName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class OrderDialog(QDialog):
    """Shows :meth:`show_order`'s order: summary, items, payments, reviews and history."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Order details")
        self.resize(560, 560)
        self.heading = QLabel(self)
        self.heading.setAccessibleName("Order")
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.heading.setFont(font)
        self.status = _label("", "Status", self)
        self.placed = _label("", "Placed", self)
        self.buyer = _label("", "Buyer", self)
        self.total = _label("", "Total", self)
        self.updated = _label("", "Last change", self)
        self.paid = _label("", "Payments", self)
        self.reviews = _label("", "Reviews", self)
        form = QFormLayout()
        for caption, field in (
            ("Status", self.status),
            ("Placed", self.placed),
            ("Buyer", self.buyer),
            ("Total", self.total),
            ("Last change", self.updated),
            ("Payments", self.paid),
            ("Reviews", self.reviews),
        ):
            form.addRow(caption + ":", field)

        self.items = QTableWidget(0, 4, self)
        self.items.setAccessibleName("Items")
        self.items.setHorizontalHeaderLabels(["Item", "SKU", "Qty", "Unit price"])
        self.items.verticalHeader().setVisible(False)
        self.items.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.items.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.history = QListWidget(self)
        self.history.setAccessibleName("History")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.setAccessibleName("Dialog buttons")
        buttons.rejected.connect(self.reject)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(_label("Items", "Items heading", self))
        layout.addWidget(self.items, 1)
        layout.addWidget(_label("History", "History heading", self))
        layout.addWidget(self.history, 1)
        layout.addWidget(buttons)

    def show_order(
        self,
        order: Order,
        *,
        payments: Sequence[Payment] = (),
        reviews: Sequence[Review] = (),
        history: Sequence[EventFrame] = (),
    ) -> None:
        self.setWindowTitle(f"Order #{order.order_id}")
        self.heading.setText(f"Order #{order.order_id}")
        label = status_label(order.status)
        colour = STATUS_COLOURS.get(order.status)
        self.status.setText(f'<b style="color:{colour}">{label}</b>' if colour else label)
        self.status.setAccessibleDescription(label)
        if order.status_reason:
            self.status.setText(self.status.text() + f" — {order.status_reason}")
        self.placed.setText(clock(order.placed_at))
        self.buyer.setText(order.buyer or "—")
        unknown = "— (the order itself has not arrived yet)"
        self.total.setText(total_text(order) if order.placement else unknown)
        self.updated.setText(clock(order.updated_at))
        self.paid.setText(
            "; ".join(
                f"{format_amount(p.amount, p.currency)} on {clock(p.received_at)} "
                f"(tx {short_hash(p.transaction_hash)})"
                for p in payments
            )
            or "None yet"
        )
        self.reviews.setText(
            "\n".join(
                f"{stars(r.rating)} {r.comment}".strip()
                + (f" — {r.reviewer}" if r.reviewer else "")
                for r in reviews
            )
            or "None yet"
        )
        self.items.setRowCount(len(order.items))
        for row, item in enumerate(order.items):
            cells = (item.name, item.sku or "", str(item.quantity),
                     format_amount(item.unit_price, order.currency or ""))  # fmt: skip
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column >= 2:
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.items.setItem(row, column, cell)
        self.items.resizeColumnsToContents()
        self.items.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.history.clear()
        for frame in history:
            notice = describe(frame)
            entry = QListWidgetItem(svg_icon(notice.icon), f"{clock(frame.ts)}  {notice.title}")
            entry.setToolTip(notice.body)
            self.history.addItem(entry)
