"""The whole tray app with its settings: first run opens the Connection page, connection
settings typed there connect without a restart, Pause from the tray menu is kept."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.config.paths import app_paths
from app.config.secrets import load_or_create
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.ui.tray import PAUSE_CHOICES
from app.ui.tray_app import TrayApp


def qt_async(test: Any) -> Any:
    return pytest.mark.asyncio(pytest.mark.qt_loop(test))


async def started(tray_app: TrayApp) -> asyncio.Task[int]:
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    tray_app.ready.connect(lambda: ready.done() or ready.set_result(None))
    running = asyncio.create_task(tray_app.run())
    await asyncio.wait_for(ready, 10)
    return running


async def until(condition: Callable[[], object], what: str, timeout: float = 10) -> None:
    """Let the loop run until ``condition`` holds (each turn waits for the next event)."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)  # a turn of the Qt/asyncio loop, not a timing guess

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


async def quit_app(tray_app: TrayApp, running: asyncio.Task[int]) -> None:
    tray_app.tray.action("Quit").trigger()
    assert await asyncio.wait_for(running, 20) == 0


@qt_async
async def test_first_run_opens_settings_and_connects_without_a_restart(
    isolated_home: Path, tmp_path: Path, wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = load_or_create(tmp_path / "gateway")
    gateway = Gateway(
        GatewayConfig(secrets=secrets, port=0), SqliteEventLog(tmp_path / "gateway" / "log.db")
    )
    await gateway.start()
    monkeypatch.setenv(
        "SELLER_NOTIFIER_TOKEN", issue_token(secrets.token_secret, wallet_a, timedelta(hours=1))
    )
    tray_app = TrayApp(app_paths().ensure(), demo=False)
    try:
        running = await started(tray_app)
        await until(lambda: tray_app._settings_dialog is not None, "the settings window")
        dialog = tray_app._settings_dialog
        assert dialog is not None
        assert dialog.isVisible() and dialog.first_run_banner.isVisible()
        assert dialog.tabs.currentIndex() == 0, "the Connection page"
        assert "Not configured" in tray_app.tray.toolTip()

        dialog.server_url.setText(gateway.url)
        dialog.server_url.editingFinished.emit()
        dialog.wallet.setText(wallet_a)
        dialog.wallet.editingFinished.emit()
        await until(lambda: tray_app.tray.icon_name == "tray-connected", "connected")
        assert "Not configured" not in tray_app.tray.toolTip()
        saved = json.loads(app_paths().settings_file.read_text())
        assert saved["connection"] == {
            "server_url": gateway.url, "wallet": wallet_a, "allow_insecure": False
        }
        await quit_app(tray_app, running)
    finally:
        await gateway.close()


@qt_async
async def test_pause_from_the_tray_is_kept_and_resumed(isolated_home: Path) -> None:
    tray_app = TrayApp(app_paths().ensure(), demo=True)
    running = await started(tray_app)
    pause_menu = tray_app.tray.action("Pause notifications").menu()
    actions = {a.text(): a for a in pause_menu.actions() if not a.isSeparator()}
    assert list(actions) == list(PAUSE_CHOICES.values())
    assert not actions["Resume notifications"].isEnabled()

    actions["For 1 hour"].trigger()
    settings = app_paths().settings_file
    until_text = json.loads(settings.read_text())["notifications"]["paused_until"]
    until_time = datetime.fromisoformat(until_text)
    left = until_time - datetime.now().astimezone()
    assert timedelta(minutes=59) < left <= timedelta(hours=1)
    assert tray_app.notifier.paused and tray_app.tray.paused
    assert tray_app.tray.icon_name == "tray-paused"
    assert "paused until" in tray_app.tray.toolTip()
    assert actions["Resume notifications"].isEnabled()
    assert tray_app.toasts.visible_toasts == []

    actions["Until tomorrow morning"].trigger()
    tomorrow = datetime.fromisoformat(
        json.loads(settings.read_text())["notifications"]["paused_until"]
    )
    assert tomorrow.hour == 8 and tomorrow.date() > datetime.now().date()

    actions["Resume notifications"].trigger()
    assert "paused_until" not in json.loads(settings.read_text())["notifications"]
    assert not tray_app.notifier.paused and not tray_app.tray.paused
    await quit_app(tray_app, running)


@qt_async
async def test_a_saved_pause_survives_a_restart(isolated_home: Path) -> None:
    paths = app_paths().ensure()
    later = (datetime.now().astimezone() + timedelta(hours=2)).isoformat()
    paths.settings_file.write_text(json.dumps({"notifications": {"paused_until": later}}))
    tray_app = TrayApp(paths, demo=True)
    running = await started(tray_app)
    assert tray_app.notifier.paused and tray_app.tray.icon_name == "tray-paused"
    await quit_app(tray_app, running)


@qt_async
async def test_debug_logging_switch_applies_live(isolated_home: Path) -> None:
    tray_app = TrayApp(app_paths().ensure(), demo=True)
    running = await started(tray_app)
    root = logging.getLogger()
    before = root.level
    try:
        tray_app.tray.action("Settings…").trigger()
        dialog = tray_app._settings_dialog
        assert dialog is not None and not dialog.first_run_banner.isVisible()
        dialog.debug.setChecked(True)
        assert root.level == logging.DEBUG
        dialog.debug.setChecked(False)
        assert root.level == logging.INFO
        assert dialog.debug.checkState() == Qt.CheckState.Unchecked
    finally:
        root.setLevel(before)
        await quit_app(tray_app, running)
        for handler in [h for h in root.handlers if getattr(h, "_seller_notifier_handler", 0)]:
            root.removeHandler(handler)
            handler.close()
