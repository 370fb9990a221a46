"""The dashboard lists received events newest first, from the store and live."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from ui_support import order_frame

from app.store.events import ClientStore
from app.ui.dashboard import DashboardWindow


def test_opens_with_stored_events_newest_first(qtbot: QtBot, tmp_path: Path, wallet_a: str) -> None:
    store = ClientStore(tmp_path / "client.sqlite3")
    for seq in (1, 2, 3):
        store.record(order_frame(wallet_a, seq))
    dashboard = DashboardWindow(lambda limit: store.recent(limit))
    qtbot.addWidget(dashboard)
    dashboard.open()
    qtbot.waitExposed(dashboard)

    rows = dashboard.rows()
    assert [row[3] for row in rows] == ["3", "2", "1"]
    time, kind, text, _ = rows[0]
    assert kind == "New order"
    assert text.startswith("New order #A3 — 12.50 USDC\n1 × Mug")
    assert time.endswith(":03")
    store.close()


def test_live_events_go_on_top_once(qtbot: QtBot, tmp_path: Path, wallet_a: str) -> None:
    store = ClientStore(tmp_path / "client.sqlite3")
    store.record(order_frame(wallet_a, 1))
    dashboard = DashboardWindow(lambda limit: store.recent(limit))
    qtbot.addWidget(dashboard)
    dashboard.open()
    dashboard.add_event(order_frame(wallet_a, 2))
    dashboard.add_event(order_frame(wallet_a, 2))  # a replay of the same event
    dashboard.add_event(order_frame(wallet_a, 1))  # already loaded from the store
    assert [row[3] for row in dashboard.rows()] == ["2", "1"]
    store.close()


def test_closing_only_hides(qtbot: QtBot) -> None:
    dashboard = DashboardWindow()
    qtbot.addWidget(dashboard)
    dashboard.open()
    qtbot.waitExposed(dashboard)
    dashboard.close()
    assert not dashboard.isVisible()
    dashboard.open()
    assert dashboard.isVisible()


def test_a_broken_store_shows_an_empty_list(qtbot: QtBot) -> None:
    def broken(limit: int) -> list[object]:
        raise RuntimeError("disk gone")

    dashboard = DashboardWindow(broken)  # type: ignore[arg-type]
    qtbot.addWidget(dashboard)
    dashboard.open()
    assert dashboard.rows() == []
