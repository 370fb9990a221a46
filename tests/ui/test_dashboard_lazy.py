"""The tray app's dashboard: no window (nor its memory) until the seller opens it."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from ui_support import order_frame

from app.client.status import ConnectionState, ConnectionStatus
from app.domain.cache import CacheRegistry
from app.domain.notices import Priority, app_notice
from app.store import ClientStore
from app.ui.dashboard.lazy import LazyDashboard

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
SERVER = "ws://127.0.0.1:8765"


def test_events_are_counted_without_a_window_and_shown_when_it_first_opens(
    qtbot: QtBot, tmp_path: Path
) -> None:
    unread: list[int] = []
    with ClientStore(tmp_path / "client.sqlite3") as store:
        dashboard = LazyDashboard(store, caches=CacheRegistry(), wallet=WALLET)
        dashboard.unread_changed.connect(unread.append)
        dashboard.refresh_unread()
        assert unread == [0]

        dashboard.update_status(ConnectionStatus(ConnectionState.CONNECTED, server=SERVER))
        for seq in range(1, 301):
            store.record(order_frame(WALLET, seq))
            dashboard.add_event(order_frame(WALLET, seq))
        dashboard.add_notice(app_notice("Events missed", "3 events are missing", Priority.HIGH))
        dashboard.update_status(
            ConnectionStatus(ConnectionState.BACKING_OFF, server=SERVER, reason="connection lost")
        )
        qtbot.waitUntil(lambda: unread[-1] == 301, timeout=5000)
        assert dashboard.window is None, "nothing was opened, so no window was built"
        assert dashboard.unread_count() == 301

        dashboard.open()
        window = dashboard.window
        assert window is not None and window.isVisible()
        qtbot.addWidget(window)
        rows = window.rows()
        assert rows[0][2] == "Events missed"
        assert len(rows) > 100 and window.orders.rowCount() == 300
        assert window.banner_text().startswith("Offline — showing saved data, stale since")
        assert window.banner_text().endswith("Reconnecting.")

        window.mark_all_read()
        assert unread[-1] == 0 and dashboard.unread_count() == 0
        dashboard.shutdown()
        assert not window.isVisible()


def test_without_a_store_the_window_is_built_at_once_to_keep_the_events(qtbot: QtBot) -> None:
    dashboard = LazyDashboard(None, wallet=WALLET)
    window = dashboard.window
    assert window is not None
    qtbot.addWidget(window)
    dashboard.add_event(order_frame(WALLET, 1))
    dashboard.open()
    assert window.orders.rowCount() == 1
    dashboard.shutdown()


def test_closing_a_never_opened_dashboard_builds_nothing(tmp_path: Path) -> None:
    with ClientStore(tmp_path / "client.sqlite3") as store:
        dashboard = LazyDashboard(store, caches=CacheRegistry())
        dashboard.add_event(order_frame(WALLET, 1))
        dashboard.shutdown()
        dashboard.open()  # after shutdown (a late menu click): ignored
        assert dashboard.window is None
        dashboard.deleteLater()
