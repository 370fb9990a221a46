"""Tests of the end-to-end harness itself: each part a user would notice missing works."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from desktop_session import DesktopSession, peak_amplitude, write_tone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

_TRAY_PROBE = """
import sys
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

app = QApplication(sys.argv)
available = QSystemTrayIcon.isSystemTrayAvailable()
pixmap = QPixmap(22, 22)
pixmap.fill(QColor("red"))
icon = QSystemTrayIcon(QIcon(pixmap))
icon.show()
app.processEvents()
print(app.platformName(), available, icon.isVisible(), flush=True)
icon.hide()
"""


def test_pyside6_sees_a_system_tray(desktop: DesktopSession) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _TRAY_PROBE],
        env=desktop.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["xcb", "True", "True"], result.stderr


_TRAY_APP = """
import sys
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

app = QApplication(sys.argv)
app.setApplicationName("harness-probe")
pixmap = QPixmap(22, 22)
pixmap.fill(QColor("red"))
icon = QSystemTrayIcon(QIcon(pixmap))
icon.show()
if sys.argv[1:] == ["message"]:
    icon.showMessage("probe title", "probe body")
print("shown", flush=True)
sys.exit(app.exec())
"""


@pytest.mark.desktop(status_notifier=False)
def test_trayer_embeds_the_icon_without_a_status_notifier_watcher(
    desktop: DesktopSession,
) -> None:
    (panel,) = desktop.window_ids("panel")
    app = desktop.spawn([sys.executable, "-c", _TRAY_APP], name="probe")

    icons = desktop.wait_for_window("harness-probe", under=panel, timeout=20)

    assert len(icons) == 1, desktop.log("probe")
    assert desktop.stop(app) == -15, desktop.log("probe")


def test_show_message_reaches_dunst_through_the_status_notifier_watcher(
    desktop: DesktopSession,
) -> None:
    app = desktop.spawn([sys.executable, "-c", _TRAY_APP, "message"], name="probe")

    found = desktop.wait_for_notifications(1, timeout=20)

    assert [(n["summary"], n["body"], n["appname"]) for n in found] == [
        ("probe title", "probe body", "harness-probe")
    ], desktop.log("probe")
    assert desktop.stop(app) == -15, desktop.log("probe")


def test_notify_send_reaches_dunst(desktop: DesktopSession) -> None:
    desktop.run(["notify-send", "--app-name=harness", "hello", "world"])

    found = desktop.wait_for_notifications(1, timeout=10)

    assert [(n["summary"], n["body"], n["appname"]) for n in found] == [
        ("hello", "world", "harness")
    ]


def test_a_played_tone_reaches_the_null_sink(desktop: DesktopSession, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav", frequency=880, seconds=0.3, amplitude=0.5)

    silence = desktop.record_sound(0.2, tmp_path / "silence.wav")
    # The session keeps the null sink awake (a suspended sink delays every sound by ~2 s).
    sinks = desktop.run(["pactl", "list", "sinks", "short"]).stdout.decode()
    assert "null" in sinks and "SUSPENDED" not in sinks, sinks
    desktop.start_recording(tmp_path / "played.wav")
    try:
        desktop.run(["paplay", str(tone)], timeout=20)
    finally:
        played = desktop.stop_recording()

    assert peak_amplitude(silence) < 0.01
    assert peak_amplitude(played) > 0.3


def test_screenshot_is_a_png_of_the_whole_screen(desktop: DesktopSession, tmp_path: Path) -> None:
    shot = desktop.screenshot(tmp_path / "screen.png")

    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, chunk, width, height = struct.unpack(">I4sII", data[8:24])
    assert (chunk, length) == (b"IHDR", 13)
    assert (width, height) == (1280, 800)


@pytest.mark.usefixtures("desktop_programs")
def test_leaves_no_process_and_no_directory_behind() -> None:
    with DesktopSession() as session:
        pids = session.helper_pids()
        directory = session.directory
        assert set(pids) == {
            "Xvfb",
            "dbus-daemon",
            "dunst",
            "trayer",
            "status-notifier-watcher",
            "pulseaudio",
            "pulse-keeper",
        }

    assert not directory.exists()
    # Every helper was waited for, so its PID is gone (not even a zombie).
    assert [pid for pid in pids.values() if _exists(pid)] == []


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
