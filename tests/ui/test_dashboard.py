"""The dashboard window: cards, orders, chart, activity, connection, offline banner, export,
layout memory, keyboard and accessibility — against a real store in tmp_path."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from ui_support import order_frame

from app.client.status import ConnectionState, ConnectionStatus
from app.domain.cache import CacheRegistry
from app.domain.notices import Priority, app_notice
from app.protocol import EventFrame
from app.store import ClientStore
from app.ui.dashboard import DashboardWindow
from app.ui.dashboard.orders_model import ORDER, STATUS

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC).astimezone()
SERVER = "ws://127.0.0.1:8765"
TX = "0x" + "ab" * 32


class Story:
    """Events for WALLET, a minute apart, ending just before NOW."""

    def __init__(self) -> None:
        self.frames: list[EventFrame] = []

    def add(self, event: dict[str, Any], minutes_ago: float | None = None) -> EventFrame:
        seq = len(self.frames) + 1
        ts = NOW - timedelta(minutes=minutes_ago if minutes_ago is not None else 200 - seq)
        frame = EventFrame.model_validate(
            {"wallet": WALLET, "seq": seq, "id": f"e{seq}", "ts": ts.isoformat(), "event": event}
        )
        self.frames.append(frame)
        return frame

    def order(self, order_id: str, total: str, currency: str = "EUR", **extra: Any) -> EventFrame:
        return self.add(
            {"type": "new_order", "orderId": order_id, "total": total, "currency": currency,
             "buyer": "Ada L.", "items": [{"name": "Ceramic Mug", "quantity": 2,
                                           "unitPrice": "7.00", "sku": "MUG"}], **extra}
        )  # fmt: skip

    def status(self, order_id: str, status: str) -> EventFrame:
        return self.add({"type": "order_status_changed", "orderId": order_id, "newStatus": status})


def shop_story() -> Story:
    story = Story()
    story.order("A1", "14.00")
    story.order("A2", "30.00")
    story.order("A3", "0.0042", "ETH")
    story.status("A1", "paid")
    story.add({"type": "payment_received", "amount": "14.00", "currency": "EUR",
               "transactionHash": TX, "orderId": "A1"})  # fmt: skip
    story.status("A2", "cancelled")
    story.add({"type": "review_received", "reviewId": "R1", "rating": 5, "orderId": "A1",
               "comment": "Lovely"})  # fmt: skip
    story.add({"type": "review_received", "reviewId": "R2", "rating": 4})
    story.add({"type": "tier_upgraded", "newTier": "Gold",
               "benefits": ["Next-day payouts", "Featured shop badge"]})  # fmt: skip
    story.add({"type": "analytics_update", "views": 1204, "orders": 3, "conversionRate": 0.031})
    return story


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClientStore]:
    with ClientStore(tmp_path / "client.sqlite3") as opened:
        for frame in shop_story().frames:
            opened.record(frame)
        yield opened


@pytest.fixture
def window(qtbot: QtBot, store: ClientStore, tmp_path: Path) -> Iterator[DashboardWindow]:
    dashboard = DashboardWindow(
        store, state_file=tmp_path / "dashboard.ini", clock=lambda: NOW, wallet=WALLET
    )
    qtbot.addWidget(dashboard)
    yield dashboard
    dashboard.shutdown()


def deliver(store: ClientStore, window: DashboardWindow, frame: EventFrame) -> None:
    """What the client and the notifier do with a live event."""
    store.record(frame)
    window.add_event(frame)


def orders_shown(window: DashboardWindow) -> list[tuple[str, str]]:
    model = window.orders
    return [
        (model.data(model.index(row, ORDER)), model.data(model.index(row, STATUS)))
        for row in range(model.rowCount())
    ]


def test_opens_with_the_stored_figures_orders_and_activity(
    qtbot: QtBot, window: DashboardWindow
) -> None:
    window.open()
    qtbot.waitExposed(window)

    cards = window.cards
    assert cards.revenue_today.value.text() == "14.00 EUR"  # A2 was cancelled
    assert cards.revenue_today.detail.text() == "0.0042 ETH"
    assert cards.orders_today.value.text() == "3"
    assert "1,204 views" in cards.orders_today.detail.text()
    assert "3.1 % conversion" in cards.orders_today.detail.text()
    assert cards.waiting.value.text() == "1"
    assert cards.rating.value.text() == "4.50 ★"
    assert cards.rating.detail.text() == "from 2 reviews"
    assert cards.tier.value.text() == "Gold"
    assert "Next-day payouts" in cards.tier.toolTip()

    assert orders_shown(window) == [("A3", "Pending"), ("A2", "Cancelled"), ("A1", "Paid")]
    assert window.orders_title.text() == "Orders (3)"
    assert window.chart.shown_currency == "EUR"  # two EUR orders, one ETH
    assert window.chart.total == "14.00 EUR"
    assert window.chart.point_count() > 2

    rows = window.rows()
    assert len(rows) == 10
    assert rows[0][1:] == ("Analytics", "Today: 1,204 views, 3 orders", "10")
    assert window.unread_count() == 10
    assert window.unread_label.text() == "10 unread"


def test_a_burst_of_live_events_is_one_update(
    qtbot: QtBot, window: DashboardWindow, store: ClientStore
) -> None:
    window.open()
    qtbot.waitExposed(window)
    before = window.batches
    burst = []
    for n in range(300):
        seq = 100 + n
        burst.append(
            EventFrame.model_validate(
                {"wallet": WALLET, "seq": seq, "id": f"live-{n}",
                 "ts": (NOW - timedelta(seconds=300 - n)).isoformat(),
                 "event": {"type": "new_order", "orderId": f"L{n:03}", "total": "1.00",
                           "currency": "EUR"}}
            )
        )  # fmt: skip
    with qtbot.waitSignal(window.unread_changed, timeout=5000) as unread:
        for frame in burst:
            deliver(store, window, frame)
        assert window.orders.rowCount() == 3, "nothing is repainted before the interval ends"

    assert unread.args == [310]
    assert window.batches == before + 1, "300 events, one batch"
    assert window.orders.rowCount() == 303
    assert orders_shown(window)[0] == ("L299", "Pending")
    # The cards and the chart follow in the next turn of the event loop.
    qtbot.waitUntil(lambda: window.cards.orders_today.value.text() == "303", timeout=5000)
    assert window.cards.revenue_today.value.text() == "314.00 EUR"
    assert window.rows()[0][2] == "New order #L299 — 1.00 EUR"
    assert "Last event" in window.connection.text()


def test_a_status_change_updates_its_row_and_the_figures(
    qtbot: QtBot, window: DashboardWindow, store: ClientStore
) -> None:
    window.open()
    frame = EventFrame.model_validate(
        {"wallet": WALLET, "seq": 50, "id": "e50", "ts": NOW.isoformat(),
         "event": {"type": "order_status_changed", "orderId": "A1", "newStatus": "shipped"}}
    )  # fmt: skip
    deliver(store, window, frame)
    window.flush()

    assert ("A1", "Shipped") in orders_shown(window)
    assert window.cards.waiting.value.text() == "0"
    assert window.status_filter.findText("Shipped") > 0


def test_while_hidden_nothing_is_repainted_but_the_unread_count_moves(
    qtbot: QtBot, window: DashboardWindow, store: ClientStore
) -> None:
    counts: list[int] = []
    window.unread_changed.connect(counts.append)
    window.refresh_unread()
    deliver(store, window, order_frame(WALLET, 60, "H1"))
    window.flush()

    assert counts == [10, 11]
    assert window.orders.rowCount() == 0, "a hidden window does not read orders"
    window.open()
    assert ("H1", "Pending") in orders_shown(window)


def test_double_click_or_enter_opens_the_order(qtbot: QtBot, window: DashboardWindow) -> None:
    window.open()
    qtbot.waitExposed(window)
    row = [o for o, _ in orders_shown(window)].index("A1")
    rect: QRect = window.table.visualRect(window.orders.index(row, ORDER))
    # Qt 6's QTest sends no press before a double click; a view wants one first.
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    dialog = window.order_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.heading.text() == "Order #A1"
    assert dialog.status.accessibleDescription() == "Paid"
    assert dialog.total.text() == "14.00 EUR"
    assert dialog.items.item(0, 0).text() == "Ceramic Mug"
    assert "14.00 EUR" in dialog.paid.text()
    assert "Lovely" in dialog.reviews.text()
    history = [dialog.history.item(i).text() for i in range(dialog.history.count())]
    assert len(history) == 4 and history[0].endswith("New order #A1 — 14.00 EUR")

    dialog.hide()
    window.table.setFocus()
    window.table.setCurrentIndex(window.orders.index(0, ORDER))
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.heading.text() == "Order #A3"


def test_filter_and_search_from_the_keyboard(qtbot: QtBot, window: DashboardWindow) -> None:
    window.open()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, "a2")
    assert orders_shown(window) == [("A2", "Cancelled")]
    window.search.clear()

    window.status_filter.setCurrentIndex(window.status_filter.findText("Paid"))
    assert orders_shown(window) == [("A1", "Paid")]
    assert window.orders_title.text() == "Orders (1 of 3)"


def test_mark_all_read_and_click_to_read(
    qtbot: QtBot, window: DashboardWindow, store: ClientStore
) -> None:
    window.open()
    qtbot.waitExposed(window)
    first = window.activity_view.visualRect(window.activity.index(0))
    qtbot.mouseClick(window.activity_view.viewport(), Qt.MouseButton.LeftButton, pos=first.center())
    assert window.unread_count() == 9
    assert window.activity.notice_at(0).read

    with qtbot.waitSignal(window.unread_changed) as signal:
        qtbot.mouseClick(window.mark_read_button, Qt.MouseButton.LeftButton)
    assert signal.args == [0]
    assert store.unread_count() == 0
    assert window.unread_label.text() == "" and not window.mark_read_button.isEnabled()


def test_offline_shows_saved_data_with_a_stale_since_banner(
    qtbot: QtBot, window: DashboardWindow, store: ClientStore
) -> None:
    window.open()
    synced = store.last_synced_at(WALLET)
    assert synced is not None
    assert window.banner_text().startswith(
        f"Offline — showing saved data, stale since {synced.astimezone():%H:%M}."
    )
    assert window.cards.revenue_today.value.text() == "14.00 EUR", "cached data is shown"

    window.update_status(ConnectionStatus(ConnectionState.CONNECTED, server=SERVER, latency=0.012))
    assert window.banner_text() == ""
    assert "Connected · Latency 12 ms" in window.connection.text()
    assert SERVER in window.connection.text()

    dropped = NOW  # the clock says when the link went down
    window.update_status(
        ConnectionStatus(ConnectionState.BACKING_OFF, server=SERVER, reason="connection lost",
                         reconnects=2)
    )  # fmt: skip
    assert window.banner_text() == (
        f"Offline — showing saved data, stale since {dropped.astimezone():%H:%M}. Reconnecting."
    )
    assert "2 reconnects" in window.connection.text()
    assert window.banner.toolTip() == "connection lost"


def test_a_store_without_data_says_nothing_was_received(qtbot: QtBot, tmp_path: Path) -> None:
    with ClientStore(tmp_path / "empty.sqlite3") as empty:
        window = DashboardWindow(empty, clock=lambda: NOW)
        qtbot.addWidget(window)
        window.open()
        assert window.banner_text() == "Offline — no data received yet. Not connected."
        assert window.cards.revenue_today.value.text() == "—"
        assert window.cards.rating.detail.text() == "No reviews yet"
        assert window.chart.total == ""
        window.shutdown()


def test_export_writes_the_orders_shown(
    qtbot: QtBot, window: DashboardWindow, store: ClientStore, tmp_path: Path
) -> None:
    deliver(store, window, EventFrame.model_validate(
        {"wallet": WALLET, "seq": 70, "id": "e70", "ts": NOW.isoformat(),
         "event": {"type": "new_order", "orderId": "X1", "total": "3.50", "currency": "EUR",
                   "buyer": "=HYPERLINK(\"evil\")"}}
    ))  # fmt: skip
    window.open()
    window.status_filter.setCurrentIndex(window.status_filter.findText("Pending"))
    target = tmp_path / "orders.csv"

    assert window.export_csv(target) == target

    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["order_id"] for row in rows] == ["X1", "A3"]
    assert rows[0]["buyer"] == '\'=HYPERLINK("evil")', "a formula stays text"
    assert rows[1]["total"] == "0.0042" and rows[1]["currency"] == "ETH"
    assert rows[1]["items"] == "2 x Ceramic Mug"
    assert window.export_note.text() == f"Exported 2 orders to {target}"

    assert window.export_csv(tmp_path / "missing" / "orders.csv") is None
    assert window.export_note.text().startswith("Could not export to")


def test_remembers_size_and_position_and_closing_only_hides(
    qtbot: QtBot, store: ClientStore, tmp_path: Path
) -> None:
    state = tmp_path / "dashboard.ini"
    first = DashboardWindow(store, state_file=state, clock=lambda: NOW)
    qtbot.addWidget(first)
    first.open()
    qtbot.waitExposed(first)
    first.resize(780, 560)  # the offscreen screen is 800 × 600
    first.move(QPoint(10, 20))
    first.close()
    assert not first.isVisible() and state.exists()
    first.open()
    assert first.isVisible(), "closing hid it; the app lives on in the tray"
    first.shutdown()

    second = DashboardWindow(store, state_file=state, clock=lambda: NOW)
    qtbot.addWidget(second)
    second.open()
    assert (second.width(), second.height()) == (780, 560)
    # Within the frame's border: platforms place a restored frame slightly differently.
    assert (second.pos() - first.pos()).manhattanLength() <= 6
    second.shutdown()


def test_cache_invalidation_reloads_only_what_it_names(
    qtbot: QtBot, store: ClientStore, tmp_path: Path
) -> None:
    caches = CacheRegistry(refresh=store.refold)
    window = DashboardWindow(store, caches=caches, clock=lambda: NOW, wallet=WALLET)
    qtbot.addWidget(window)
    window.open()
    store._connection().execute("UPDATE tiers SET name = 'Bronze'")  # changed behind its back
    batches = window.batches

    caches.invalidate(["catalogue"])  # nothing the dashboard shows
    window.flush()
    assert window.batches == batches
    caches.invalidate(["profile"])  # the tier: re-folded from the events, then re-read
    window.flush()
    assert window.batches == batches + 1
    assert window.cards.tier.value.text() == "Gold"

    window.shutdown()
    assert caches.callbacks_for("orders") == [], "a closed window leaves the registry"


def test_without_a_store_it_keeps_the_sessions_events(qtbot: QtBot) -> None:
    window = DashboardWindow()
    qtbot.addWidget(window)
    window.add_event(order_frame(WALLET, 1))
    window.add_event(order_frame(WALLET, 2))
    window.add_event(order_frame(WALLET, 2))  # a replay of the same event

    assert [row[3] for row in window.rows()] == ["2", "1"]
    window.open()
    assert len(orders_shown(window)) == 2
    window.shutdown()


def test_a_broken_store_shows_empty_parts_not_an_error(qtbot: QtBot, tmp_path: Path) -> None:
    broken = ClientStore(tmp_path / "client.sqlite3")
    window = DashboardWindow(broken, clock=lambda: NOW)
    qtbot.addWidget(window)
    broken.close()
    window.open()
    assert window.rows() == [] and window.orders.rowCount() == 0
    assert window.open_order(WALLET, "A1") is None


def test_every_widget_has_an_accessible_name_and_tab_reaches_the_controls(
    qtbot: QtBot, window: DashboardWindow
) -> None:
    window.open()
    qtbot.waitExposed(window)
    unnamed = [
        f"{type(w).__name__} {w.objectName()!r}"
        for w in window.findChildren(QWidget)
        if w.focusPolicy() != Qt.FocusPolicy.NoFocus and not w.accessibleName()
        and not _inside_a_named_view(w)
    ]  # fmt: skip
    assert unnamed == []
    for part in (window.banner, window.cards, *window.cards.cards, window.chart,
                 window.connection, window.main, window.side):  # fmt: skip
        assert part.accessibleName(), part
    assert window.cards.rating.accessibleDescription() == "4.50 ★. from 2 reviews"

    window.status_filter.setFocus()
    reached = []
    for _ in range(8):
        reached.append(QApplication.focusWidget())
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    for control in (window.status_filter, window.search, window.export_button, window.table,
                    window.mark_read_button, window.activity_view):  # fmt: skip
        assert control in reached, control.accessibleName()


def _inside_a_named_view(widget: QWidget) -> bool:
    # Scroll bars, headers and viewports belong to their (named) view.
    parent = widget.parentWidget()
    while parent is not None:
        if parent.accessibleName() and parent.inherits("QAbstractScrollArea"):
            return True
        parent = parent.parentWidget()
    return False


def test_the_chart_follows_a_dark_palette(qtbot: QtBot, window: DashboardWindow) -> None:
    window.open()
    dark = QPalette(window.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#1e1f22"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#eeeeee"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    window.setPalette(dark)

    assert window.chart.x_axis.labelsColor() == QColor("#eeeeee")


def test_the_apps_own_notices_join_the_activity(qtbot: QtBot, window: DashboardWindow) -> None:
    window.open()
    window.add_notice(app_notice("3 events could not be delivered", "", Priority.HIGH))
    window.flush()

    assert window.rows()[0][1:3] == ("Seller Notifier", "3 events could not be delivered")
    assert window.unread_count() == 11
