"""A seller event published to a real gateway reaches the Qt side as a toast and a row."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QRect

from app.client import SellerClient
from app.client.status import ConnectionState, ConnectionStatus
from app.config.secrets import load_or_create
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol.events import NewOrder, ReviewReceived
from app.store.events import ClientStore
from app.ui.bridge import ClientBridge
from app.ui.dashboard import DashboardWindow
from app.ui.notifier import Notifier
from app.ui.toasts import ToastManager
from app.ui.tray import TrayIcon


@pytest.mark.asyncio
@pytest.mark.qt_loop
async def test_published_event_becomes_a_toast(tmp_path: Path, wallet_a: str) -> None:
    loop = asyncio.get_running_loop()
    secrets = load_or_create(tmp_path / "gateway")
    gateway = Gateway(
        GatewayConfig(secrets=secrets, port=0), SqliteEventLog(tmp_path / "gateway" / "log.db")
    )
    await gateway.start()
    store = ClientStore(tmp_path / "client.sqlite3")
    token = issue_token(secrets.token_secret, wallet_a, timedelta(hours=1))
    client = SellerClient(gateway.url, token, store=store, since=0, wallet=wallet_a)

    toasts = ToastManager(screen_geometry=lambda: QRect(0, 0, 1200, 900), max_visible=2)
    dashboard = DashboardWindow(lambda n: store.recent(n))
    tray = TrayIcon()
    bridge = ClientBridge(client)
    notifier = Notifier(toasts, dashboard)
    bridge.event_received.connect(notifier.present_event)
    bridge.status_changed.connect(tray.update_status)
    bridge.event_received.connect(lambda frame: tray.note_event())

    connected: asyncio.Future[None] = loop.create_future()
    two_shown: asyncio.Future[None] = loop.create_future()

    def on_status(status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED and not connected.done():
            connected.set_result(None)

    def on_shown(_notice: object) -> None:
        if len(toasts.visible_toasts) == 2 and not two_shown.done():
            two_shown.set_result(None)

    bridge.status_changed.connect(on_status)
    toasts.shown.connect(on_shown)
    running = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(connected, 10)
        assert tray.icon_name == "tray-connected"
        await gateway.publish(
            wallet_a,
            NewOrder(order_id="A1", total=Decimal("12.50"), currency="USDC"),
        )
        await gateway.publish(
            wallet_a, ReviewReceived(review_id="r1", rating=2, order_id="A1", comment="late")
        )
        await asyncio.wait_for(two_shown, 10)
        titles = [t.notice.title for t in toasts.visible_toasts]
        assert titles == ["New order #A1 — 12.50 USDC", "★★☆☆☆ review on #A1"]
        assert [row[3] for row in dashboard.rows()] == ["2", "1"]
        assert store.last_seq(wallet_a) == 2
        assert "Last event:" in tray.toolTip() and "none yet" not in tray.toolTip()
    finally:
        bridge.close()
        await asyncio.wait_for(client.stop(), 10)
        await asyncio.gather(running, return_exceptions=True)
        await gateway.close()
        store.close()
        toasts.close()
        tray.deleteLater()
        dashboard.deleteLater()
