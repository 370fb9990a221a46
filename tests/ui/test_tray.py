"""The tray icon: the icon follows the connection state, the tooltip explains it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtGui import QIcon
from pytestqt.qtbot import QtBot

from app.client.status import ConnectionState, ConnectionStatus
from app.ui.tray import TrayIcon, icon_for

SERVER = "ws://127.0.0.1:8765"


class CountingTray(TrayIcon):
    """Counts setIcon calls: repeating them leaks in some tray hosts."""

    def __init__(self, **kwargs: object) -> None:
        self.icons_set = 0
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def setIcon(self, icon: QIcon) -> None:  # noqa: N802 - Qt's name
        self.icons_set += 1
        super().setIcon(icon)


def status(state: ConnectionState, **kwargs: object) -> ConnectionStatus:
    return ConnectionStatus(state=state, server=SERVER, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def tray(qapp: object, wallet_a: str) -> CountingTray:
    icon = CountingTray(server=SERVER, wallet=wallet_a)
    yield icon
    icon.hide()
    icon.deleteLater()


def test_icon_is_set_only_when_the_state_changes(tray: CountingTray) -> None:
    assert tray.icons_set == 1 and tray.icon_name == "tray-offline"
    tray.update_status(status(ConnectionState.CONNECTING))
    tray.update_status(status(ConnectionState.AUTHENTICATING))  # same icon
    assert tray.icons_set == 2 and tray.icon_name == "tray-connecting"
    for _ in range(100):
        tray.update_status(
            status(ConnectionState.CONNECTED, last_event_at=datetime.now(UTC), latency=0.01)
        )
    assert tray.icons_set == 3 and tray.icon_name == "tray-connected"
    tray.update_status(status(ConnectionState.BACKING_OFF, reason="link lost"))
    tray.update_status(status(ConnectionState.STOPPED))
    assert tray.icons_set == 5 and tray.icon_name == "tray-offline"


def test_paused_icon_overrides_the_state(tray: CountingTray) -> None:
    tray.update_status(status(ConnectionState.CONNECTED))
    tray.set_paused(True)
    assert tray.icon_name == "tray-paused"
    tray.update_status(status(ConnectionState.BACKING_OFF))
    assert tray.icon_name == "tray-paused"
    tray.set_paused(False)
    assert tray.icon_name == "tray-connecting"


@pytest.mark.parametrize(
    ("state", "icon"),
    [
        (ConnectionState.CONNECTED, "tray-connected"),
        (ConnectionState.CONNECTING, "tray-connecting"),
        (ConnectionState.AUTHENTICATING, "tray-connecting"),
        (ConnectionState.BACKING_OFF, "tray-connecting"),
        (ConnectionState.DISCONNECTED, "tray-offline"),
        (ConnectionState.STOPPED, "tray-offline"),
    ],
)
def test_icon_per_state(state: ConnectionState, icon: str) -> None:
    assert icon_for(state, paused=False) == icon
    assert icon_for(state, paused=True) == "tray-paused"


def test_tooltip_shows_state_reason_server_wallet(tray: CountingTray, wallet_a: str) -> None:
    retry = datetime.now(UTC) + timedelta(seconds=30)
    tray.update_status(
        status(
            ConnectionState.BACKING_OFF,
            reason=f"gateway unreachable at {SERVER}: connection refused",
            next_attempt_at=retry,
        )
    )
    text = tray.toolTip()
    assert "Reconnecting" in text
    assert "connection refused" in text
    assert retry.astimezone().strftime("%H:%M:%S") in text
    assert f"Server: {SERVER}" in text
    assert f"Wallet: {wallet_a[:6]}…{wallet_a[-4:]}" in text
    assert wallet_a not in text
    assert "Last event: none yet" in text


def test_tooltip_shows_last_event_time(tray: CountingTray) -> None:
    moment = datetime.now(UTC)
    tray.update_status(status(ConnectionState.CONNECTED, last_event_at=moment))
    assert f"Last event: {moment.astimezone().strftime('%H:%M:%S')}" in tray.toolTip()
    assert "Connected" in tray.toolTip()


def test_a_problem_outranks_the_reason_until_connected(tray: CountingTray) -> None:
    tray.update_status(status(ConnectionState.STOPPED, reason="stopped"))
    tray.set_problem("The server refused this device's token: token expired")
    assert "token expired" in tray.toolTip()
    tray.update_status(status(ConnectionState.CONNECTED))
    assert "token expired" not in tray.toolTip()


def test_menu_actions_come_out_as_signals(tray: CountingTray, qtbot: QtBot) -> None:
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Open dashboard", "Settings…", "Pause notifications", "Quit"]
    with qtbot.waitSignal(tray.open_dashboard_requested, timeout=1000):
        tray.action("Open dashboard").trigger()
    with qtbot.waitSignal(tray.settings_requested, timeout=1000):
        tray.action("Settings…").trigger()
    with qtbot.waitSignal(tray.pause_toggled, timeout=1000) as paused:
        tray.action("Pause notifications").trigger()
    assert paused.args == [True] and tray.paused and tray.icon_name == "tray-paused"
    with qtbot.waitSignal(tray.quit_requested, timeout=1000):
        tray.action("Quit").trigger()


def test_no_system_tray_is_logged_once_and_not_fatal(
    tray: CountingTray, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="seller_notifier")
    assert tray.start() is False  # offscreen has no tray
    assert not tray.isVisible()
    assert sum("no system tray" in r.getMessage() for r in caplog.records) == 1


def test_events_update_the_last_event_time_without_a_new_icon(tray: CountingTray) -> None:
    tray.update_status(status(ConnectionState.CONNECTED, reason="connected as 0xabc (head 0)"))
    icons = tray.icons_set
    moment = datetime(2020, 1, 2, 9, 30, 15, tzinfo=UTC)  # not today
    tray.note_event(moment)
    assert f"Last event: {moment.astimezone().strftime('%Y-%m-%d %H:%M')}" in tray.toolTip()
    assert "connected as" not in tray.toolTip()
    tray.note_event()
    assert "Last event: none yet" not in tray.toolTip()
    assert tray.icons_set == icons
