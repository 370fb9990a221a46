"""Client callbacks reach the Qt side only through the bridge, and stop when it closes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from pytestqt.qtbot import QtBot
from ui_support import FakeClient, order_frame

from app.client.status import ConnectionState, ConnectionStatus
from app.ui.bridge import ClientBridge
from app.ui.dashboard import DashboardWindow
from app.ui.notifier import Notifier
from app.ui.toasts import ToastManager


@pytest.fixture
def toasts(qapp: object) -> ToastManager:
    manager = ToastManager(screen_geometry=lambda: QRect(0, 0, 1200, 900), max_visible=3)
    yield manager
    manager.close()


def test_events_become_toasts_and_dashboard_rows(
    fake_client: FakeClient, toasts: ToastManager, qtbot: QtBot, wallet_a: str
) -> None:
    dashboard = DashboardWindow()
    qtbot.addWidget(dashboard)
    bridge = ClientBridge(fake_client)
    notifier = Notifier(toasts, dashboard)
    bridge.event_received.connect(notifier.present_event)

    with qtbot.waitSignal(bridge.event_received, timeout=1000):
        fake_client.deliver(order_frame(wallet_a, 1, "A1"))
    fake_client.deliver(order_frame(wallet_a, 2, "A2"))

    assert [t.notice.title for t in toasts.visible_toasts] == [
        "New order #A1 — 12.50 USDC",
        "New order #A2 — 12.50 USDC",
    ]
    assert [row[3] for row in dashboard.rows()] == ["2", "1"]
    bridge.close()


def test_status_changes_are_relayed(fake_client: FakeClient, qtbot: QtBot) -> None:
    bridge = ClientBridge(fake_client)
    status = ConnectionStatus(state=ConnectionState.CONNECTED, server="ws://127.0.0.1:1")
    with qtbot.waitSignal(bridge.status_changed, timeout=1000) as blocker:
        fake_client.publish_status(status)
    assert blocker.args == [status]
    bridge.close()


def test_close_unsubscribes_and_disconnects(
    fake_client: FakeClient, qtbot: QtBot, wallet_a: str
) -> None:
    bridge = ClientBridge(fake_client)
    received: list[object] = []
    bridge.event_received.connect(received.append)
    bridge.close()
    assert fake_client.event_callbacks == fake_client.status_callbacks == []
    assert fake_client.gap_callbacks == []
    bridge.event_received.emit(order_frame(wallet_a, 1))  # nothing is connected any more
    assert received == []
    bridge.close()  # idempotent


def test_paused_notifier_lists_but_does_not_toast(
    fake_client: FakeClient, toasts: ToastManager, qtbot: QtBot, wallet_a: str
) -> None:
    dashboard = DashboardWindow()
    qtbot.addWidget(dashboard)
    bridge = ClientBridge(fake_client)
    notifier = Notifier(toasts, dashboard)
    bridge.event_received.connect(notifier.present_event)
    notifier.set_paused(True)
    fake_client.deliver(order_frame(wallet_a, 1))
    assert toasts.visible_toasts == []
    assert len(dashboard.rows()) == 1
    notifier.set_paused(False)
    fake_client.deliver(order_frame(wallet_a, 2))
    assert len(toasts.visible_toasts) == 1
    bridge.close()
