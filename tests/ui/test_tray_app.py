"""The whole tray app in this process on a qasync loop: demo toasts, then Quit from the menu."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.config.paths import app_paths
from app.ui.settings_dialog import SettingsDialog
from app.ui.tray_app import TrayApp


@pytest.mark.asyncio
@pytest.mark.qt_loop
async def test_demo_toasts_then_quit_from_the_menu(isolated_home: Path) -> None:
    loop = asyncio.get_running_loop()
    tray_app = TrayApp(app_paths().ensure(), demo=True)
    toast_shown: asyncio.Future[str] = loop.create_future()

    def on_ready() -> None:
        def on_shown(notice: object) -> None:
            if not toast_shown.done():
                toast_shown.set_result(getattr(notice, "title", ""))

        tray_app.toasts.shown.connect(on_shown)

    tray_app.ready.connect(on_ready)
    running = asyncio.create_task(tray_app.run())
    title = await asyncio.wait_for(toast_shown, 10)
    assert title
    assert tray_app.dashboard.build().rows(), "the event is listed too"

    tray_app.tray.action("Settings…").trigger()
    tray_app.tray.action("Quit").trigger()
    assert await asyncio.wait_for(running, 20) == 0
    assert tray_app.toasts.visible_toasts == []


@pytest.mark.asyncio
@pytest.mark.qt_loop
async def test_a_signal_before_start_quits_at_once(isolated_home: Path) -> None:
    class Latch:
        received: str | None = "SIGTERM"

    tray_app = TrayApp(app_paths().ensure(), demo=True, early_signal=Latch())
    assert await asyncio.wait_for(tray_app.run(), 20) == 0


def test_settings_dialog_names_the_file(qtbot: object, isolated_home: Path) -> None:
    path = app_paths().settings_file
    dialog = SettingsDialog(path)
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    assert str(path) in dialog.text.text()
    assert "--demo" in dialog.text.text()
