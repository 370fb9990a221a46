"""The tray icon shows how many notices are unread, as the dashboard counts them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QIcon
from pytestqt.qtbot import QtBot
from ui_support import order_frame

from app.store import ClientStore
from app.ui.dashboard import DashboardWindow
from app.ui.tray import TrayIcon, unread_badge

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


class CountingTray(TrayIcon):
    def __init__(self) -> None:
        self.icons: list[QIcon] = []
        super().__init__(server="ws://127.0.0.1:8765", wallet=WALLET)

    def setIcon(self, icon: QIcon) -> None:  # noqa: N802 - Qt's name
        self.icons.append(icon)
        super().setIcon(icon)


@pytest.fixture
def tray() -> Iterator[CountingTray]:
    icon = CountingTray()
    yield icon
    icon.hide()
    icon.deleteLater()


def test_unread_notices_badge_the_tray_icon_until_read(
    qtbot: QtBot, tray: CountingTray, tmp_path: Path
) -> None:
    with ClientStore(tmp_path / "client.sqlite3") as store:
        dashboard = DashboardWindow(store, wallet=WALLET)
        qtbot.addWidget(dashboard)
        dashboard.unread_changed.connect(tray.set_unread)
        dashboard.refresh_unread()
        assert tray.unread == 0 and len(tray.icons) == 1
        assert "unread" not in tray.tooltip_text()

        for seq in (1, 2, 3):
            store.record(order_frame(WALLET, seq))
            dashboard.add_event(order_frame(WALLET, seq))
        dashboard.flush()  # hidden: only the count moves

        assert tray.unread == 3
        assert tray.tooltip_text().endswith("3 unread notices")
        assert len(tray.icons) == 2 and tray.icon_name == "tray-offline"

        dashboard.open()
        dashboard.mark_all_read()
        assert tray.unread == 0 and len(tray.icons) == 3
        dashboard.shutdown()


def test_badge_text() -> None:
    assert unread_badge(0) is None
    assert unread_badge(7) == "7"
    assert unread_badge(99) == "99"
    assert unread_badge(100) == "99+"
