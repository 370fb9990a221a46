"""The dashboard's models: orders (sort, filter, search, batched updates), activity, batching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from pytestqt.qtbot import QtBot

from app.domain.folding import Order, fold_events
from app.domain.notices import app_notice
from app.protocol import EventFrame
from app.store.history import StoredNotice
from app.ui.dashboard.activity import MAX_ROWS, ActivityModel
from app.ui.dashboard.batching import UpdateBatcher
from app.ui.dashboard.orders_model import (
    BUYER,
    ITEMS,
    ORDER,
    ORDER_KEY_ROLE,
    STATUS,
    TOTAL,
    OrdersModel,
)

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def orders(*specs: tuple[str, str, str, str, str]) -> list[Order]:
    """(order id, buyer, item, total, status) → orders placed a minute apart, in that order."""
    frames = []
    for n, (order_id, buyer, item, total, status) in enumerate(specs, start=1):
        placed = {
            "type": "new_order",
            "orderId": order_id,
            "total": total,
            "currency": "EUR",
            "buyer": buyer,
            "items": [{"name": item, "quantity": 1, "unitPrice": total}],
        }
        frames.append(frame(2 * n, placed))
        changed = {"type": "order_status_changed", "orderId": order_id, "newStatus": status}
        frames.append(frame(2 * n + 1, changed))
    return list(fold_events(frames).orders.values())  # fmt: skip


def frame(seq: int, event: dict[str, Any]) -> EventFrame:
    return EventFrame.model_validate(
        {"wallet": WALLET, "seq": seq, "id": f"e{seq}",
         "ts": (BASE + timedelta(minutes=seq)).isoformat(), "event": event}
    )  # fmt: skip


def column(model: OrdersModel, index: int) -> list[str]:
    return [model.data(model.index(row, index)) for row in range(model.rowCount())]


SHOP = (
    ("A1", "Ada L.", "Ceramic Mug", "14.00", "paid"),
    ("A2", "Grace H.", "Linen Tote", "22.50", "shipped"),
    ("A3", "Alan T.", "Silk Scarf", "64.00", "paid"),
    ("A4", "Ada L.", "Sticker Pack", "4.99", "on hold"),
)


def test_newest_placed_first_then_any_column_sorts(qtbot: QtBot) -> None:
    model = OrdersModel()
    model.set_orders(orders(*SHOP))

    assert column(model, ORDER) == ["A4", "A3", "A2", "A1"]
    assert column(model, STATUS) == ["On hold", "Paid", "Shipped", "Paid"]
    assert model.data(model.index(0, TOTAL)) == "4.99 EUR"
    assert model.data(model.index(0, ORDER), ORDER_KEY_ROLE) == (WALLET, "A4")

    model.sort(TOTAL, Qt.SortOrder.AscendingOrder)
    assert column(model, ORDER) == ["A4", "A1", "A2", "A3"]  # by amount, not by text
    model.sort(BUYER, Qt.SortOrder.DescendingOrder)
    assert column(model, BUYER) == ["Grace H.", "Alan T.", "Ada L.", "Ada L."]


def test_filter_by_status_and_search_any_case(qtbot: QtBot) -> None:
    model = OrdersModel()
    model.set_orders(orders(*SHOP))
    assert model.statuses() == ["on hold", "paid", "shipped"]

    model.set_status_filter("paid")
    assert sorted(column(model, ORDER)) == ["A1", "A3"]
    model.set_search("SCARF")
    assert column(model, ORDER) == ["A3"]
    model.set_status_filter(None)
    model.set_search("ada")
    assert column(model, ORDER) == ["A4", "A1"]
    model.set_search("a2")
    assert column(model, ORDER) == ["A2"]
    model.set_search("")
    assert model.rowCount() == 4
    assert [o.order_id for o in model.visible_orders()] == ["A4", "A3", "A2", "A1"]


def test_a_batch_is_one_update_and_the_selection_follows_its_order(qtbot: QtBot) -> None:
    model = OrdersModel()
    model.set_orders(orders(*SHOP))
    model.set_status_filter("paid")
    selected = QPersistentModelIndex(model.index(1, ORDER))
    assert model.data(selected) == "A1"
    inserted: list[tuple[int, int]] = []
    removed: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    model.rowsRemoved.connect(lambda _parent, first, last: removed.append((first, last)))
    batches = model.batches

    newer = orders(
        *SHOP[:2],
        ("A3", "Alan T.", "Silk Scarf", "64.00", "shipped"),  # leaves the "paid" filter
        SHOP[3],
        ("A5", "Tim B.", "Candle", "12.75", "paid"),
        ("A6", "Hedy L.", "Soap", "6.95", "paid"),
    )
    model.upsert(o for o in newer if o.order_id in ("A3", "A5", "A6"))

    assert model.batches == batches + 1
    assert inserted == [(1, 2)] and removed == [(0, 0)]  # one insert, one removal
    assert column(model, ORDER) == ["A6", "A5", "A1"]
    assert selected.isValid() and selected.row() == 2 and model.data(selected) == "A1"
    assert len(model.all_orders()) == 6


def test_orders_known_only_by_status_show_dashes(qtbot: QtBot) -> None:
    model = OrdersModel()
    status_only = fold_events(
        [frame(1, {"type": "order_status_changed", "orderId": "X9", "newStatus": "paid"})]
    ).orders.values()
    model.set_orders(status_only)
    assert model.data(model.index(0, TOTAL)) == "—"
    assert model.data(model.index(0, ITEMS)) == "—"
    assert model.data(model.index(0, BUYER)) == "—"
    assert model.data(QModelIndex()) is None
    assert model.headerData(STATUS, Qt.Orientation.Horizontal) == "Status"


def stored(notice_id: int, title: str, read: bool = False) -> StoredNotice:
    return StoredNotice(notice_id, app_notice(title), read)


def test_activity_puts_new_notices_on_top_and_caps_its_length(qtbot: QtBot) -> None:
    model = ActivityModel()
    model.set_notices([stored(2, "two"), stored(1, "one", read=True)])
    model.prepend([stored(4, "four"), stored(3, "three"), stored(2, "two")])

    titles = [model.data(model.index(row)) for row in range(model.rowCount())]
    assert titles == ["four", "three", "two", "one"]
    assert model.newest_id == 4
    tooltip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("Unread. Seller Notifier")

    model.mark_read({4})
    assert model.notice_at(0).read and not model.notice_at(1).read
    model.mark_read()
    assert all(model.notice_at(row).read for row in range(model.rowCount()))

    model.prepend([stored(1000 + n, f"n{n}") for n in range(MAX_ROWS)])
    assert model.rowCount() == MAX_ROWS
    assert model.data(model.index(0)) == "n0"


def test_a_burst_is_handed_over_in_one_batch(qtbot: QtBot) -> None:
    batches: list[list[int]] = []
    batcher = UpdateBatcher[int](batches.append, interval_ms=50)
    for n in range(1000):
        batcher.add(n)
    assert batches == [] and batcher.pending == 1000

    qtbot.waitUntil(lambda: batches != [], timeout=5000)
    assert batches == [list(range(1000))]
    batcher.add(1)
    batcher.flush_now()
    batcher.flush_now()  # nothing waits: no empty batch
    assert batches[-1] == [1] and batcher.flushes == 2
    batcher.add(2)
    batcher.stop()
    assert batcher.pending == 0
