"""Notifications for real, under Xvfb with a private D-Bus session, dunst and PulseAudio.

* a native notification really reaches dunst, with its "Open order" action: dunst 1.9's
  history does not list actions, so ``dbus-monitor`` records the Notify call on the
  session bus (whose policy allows eavesdropping) and the test reads its ``actions``
  argument; the default action, invoked with ``dunstctl action``, opens the order page
  (a stand-in ``xdg-open`` on PATH records the URL);
* with no notification daemon the app falls back to its own toasts, and says why;
* a sound really reaches the PulseAudio null sink (recorded from ``null.monitor``);
* toasts in each corner and the settings window, as screenshots in ``test-artifacts/``
  (``SELLER_NOTIFIER_UPDATE_SCREENSHOTS=1`` also refreshes ``docs/screenshots/``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from desktop_session import DesktopSession, peak_amplitude, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SELLER_NOTIFIER_ARTIFACTS", "test-artifacts"))
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
UPDATE_DOCS = os.environ.get("SELLER_NOTIFIER_UPDATE_SCREENSHOTS") == "1"
TEMPLATE = "https://market.example/orders/{orderId}"
ONLY_ORDERS = {
    "order_status_changed": False,
    "payment_received": False,
    "review_received": False,
    "tier_upgraded": False,
    "analytics_update": False,
    "other": False,
}
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")

# Shows four toasts (normal, normal, high, urgent) in the corner given as argv[1], or the
# settings window ("dialog"), and prints their geometry once every window is exposed.
DRIVER = r"""
import asyncio, json, sys
import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
from app.config.paths import app_paths
from app.domain.notices import Priority, app_notice, describe
from app.protocol.frames import EventFrame
from app.ui.native import NativeAdapter
from app.ui.notifier import Notifier
from app.ui.settings.dialog import SettingsDialog, KeyringState
from app.ui.settings.store import SettingsStore
from app.ui.toasts import ToastManager
from app.ui.toasts.adapter import InAppAdapter

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
TX = "0x" + "3f" * 32


def frame(seq, event):
    return EventFrame.model_validate({"wallet": WALLET, "seq": seq, "id": f"e{seq}",
                                      "ts": "2026-11-25T10:00:00Z", "event": event})


notices = [
    describe(frame(1, {"type": "new_order", "orderId": "ORD-1042", "total": "129.90",
                       "currency": "USDC", "buyer": "maria.k",
                       "items": [{"name": "Ceramic mug", "quantity": 2, "unitPrice": "24.95"},
                                 {"name": "Tea sampler", "unitPrice": "80.00"}]})),
    describe(frame(2, {"type": "payment_received", "amount": "129.90", "currency": "USDC",
                       "transactionHash": TX, "orderId": "ORD-1042"})),
    describe(frame(3, {"type": "review_received", "reviewId": "r7", "rating": 2,
                       "orderId": "ORD-0977", "comment": "Arrived late and the box was dented.",
                       "reviewer": "jon"})),
    app_notice("The server refused this device", "The device token has expired. "
               "Get a new token and add it in Settings.", Priority.URGENT),
]
what = sys.argv[1]
manager = ToastManager(position="top-right" if what == "dialog" else what, max_visible=4,
                       auto_hide=False)
windows = []


async def open_dialog():
    # The chosen adapter (desktop notifications) has no daemon in this session: the
    # window says so, and the test notification falls back to an in-app toast.
    global windows
    store = SettingsStore(app_paths().settings_file)
    store.set("connection.server_url", "wss://gateway.example.com")
    store.set("connection.wallet", WALLET)
    store.set("notifications.order_url_template", "https://market.example/orders/{orderId}")
    store.set("notifications.adapter", "native")
    native = NativeAdapter()
    notifier = Notifier(manager, adapters=[InAppAdapter(manager), native])
    notifier.follow(store)
    await native.check()
    dialog = SettingsDialog(store, notifier=notifier, keyring=lambda: KeyringState(
        False, "No system keyring is available on this computer, so the device token "
        "cannot be saved here. Set SELLER_NOTIFIER_TOKEN in the environment that starts "
        "Seller Notifier instead.", True), has_token=lambda wallet: False)
    dialog.show_page("notifications")
    dialog.test_button.click()
    dialog.move(40, 40)
    dialog.show()
    windows = [dialog]
    report()


def report():
    if not all(w.windowHandle() is not None and w.windowHandle().isExposed() for w in windows):
        QTimer.singleShot(20, report)
        return
    for w in windows:
        w.repaint()
    print(json.dumps([[w.windowTitle(), w.x(), w.y(), w.width(), w.height()]
                      for w in windows]), flush=True)


if what == "dialog":
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.create_task(open_dialog())
    loop.run_forever()
else:
    for notice in notices:
        manager.show_notice(notice)
    windows = manager.visible_toasts
    QTimer.singleShot(0, report)
    app.exec()
"""


def write_settings(home: Path, **notifications: Any) -> None:
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(json.dumps({"notifications": notifications}))


def app_log(home: Path) -> str:
    path = home / "log" / "seller-notifier.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def start_app(
    desktop: DesktopSession, home: Path, name: str = "app", **env: str
) -> subprocess.Popen[bytes]:
    return desktop.spawn(
        [sys.executable, "-m", "app", "--demo", "--debug"],
        name=name,
        env={"SELLER_NOTIFIER_HOME": str(home), "QT_QPA_PLATFORM": "xcb", **env},
    )


def stop_app(desktop: DesktopSession, app: subprocess.Popen[bytes], home: Path, name: str) -> None:
    code = desktop.stop(app, timeout=20)
    output = desktop.log(name)
    assert code == 0, output
    assert "Traceback" not in output and "Traceback" not in app_log(home), output


def in_log(home: Path, text: str) -> bool:
    return text in app_log(home)


def toast_windows(desktop: DesktopSession, words: tuple[str, ...]) -> list[int]:
    return [w for word in words for w in desktop.window_ids(word)]


def brightness(desktop: DesktopSession, shot: Path, rect: tuple[int, int, int, int]) -> float:
    x, y, width, height = rect
    result = desktop.run(
        ["convert", str(shot), "-crop", f"{width}x{height}+{x}+{y}", "-format", "%[fx:mean]",
         "info:"]  # fmt: skip
    )
    return float(result.stdout.decode().strip() or 0)


def publish_screenshot(shot: Path, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    if UPDATE_DOCS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOTS / name)


# --- native notifications ----------------------------------------------------------------


@pytest.mark.desktop(tray=False, status_notifier=False, sound=False)
def test_native_notification_arrives_with_open_order(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    if shutil.which("dbus-monitor") is None:
        pytest.skip("needs dbus-monitor (Debian package dbus)")
    monitor = desktop.spawn(
        [
            "dbus-monitor",
            "--session",
            "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
        ],
        name="monitor",
    )
    # dbus-monitor drops its own name once it has become a monitor: then it sees everything.
    wait_until(lambda: "NameLost" in desktop.log("monitor"), timeout=10, what="dbus-monitor")

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened = tmp_path / "opened.txt"
    xdg_open = bin_dir / "xdg-open"
    xdg_open.write_text(f'#!/bin/sh\necho "$@" >> "{opened}"\n')
    xdg_open.chmod(0o755)

    home = tmp_path / "home"
    write_settings(
        home, adapter="native", order_url_template=TEMPLATE, auto_hide=False, types=ONLY_ORDERS
    )
    app = start_app(desktop, home, PATH=f"{bin_dir}:{os.environ['PATH']}")
    wait_until(
        lambda: 'string "Open order"' in desktop.log("monitor"),
        timeout=60,
        what="a Notify call with the Open order action",
    )
    call = desktop.log("monitor").split("member=Notify")[1]
    assert 'string "Seller Notifier"' in call
    assert 'string "New order #' in call
    assert 'string "default"' in call, "clicking the notification itself is offered too"
    assert "variant             byte 1" in call, "normal urgency for a new order"

    # Click it (dunst's default action): the order's page opens.
    desktop.run(["dunstctl", "action", "0"])
    wait_until(
        lambda: opened.exists() and "https://market.example/orders/" in opened.read_text(),
        timeout=15,
        what="the order page to be opened",
    )
    arrived = desktop.wait_for_notifications(1, timeout=10)
    ours = [n for n in arrived if n["appname"] == "Seller Notifier"]
    assert ours and ours[0]["summary"].startswith("New order #")
    assert all(n["summary"].startswith("New order #") for n in ours), "filters apply"
    assert in_log(home, "desktop notifications available")
    stop_app(desktop, app, home, "app")
    desktop.stop(monitor)


@pytest.mark.desktop(tray=False, status_notifier=False, sound=False, notification_daemon=False)
def test_without_a_notification_daemon_toasts_are_used(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_settings(home, adapter="native")
    app = start_app(desktop, home)
    words = ("New order", "Payment", "Order", "review", "tier", "Marketplace", "Today", "events")
    wait_until(lambda: toast_windows(desktop, words), timeout=60, what="an in-app toast")
    log = app_log(home)
    assert "desktop notifications unavailable: no notification service is running" in log
    assert "showing notifications as In-app toasts" in log
    stop_app(desktop, app, home, "app")


# --- sound -----------------------------------------------------------------------------------


@pytest.mark.desktop(tray=False, status_notifier=False, notification_daemon=False)
def test_a_sound_reaches_the_sound_card(desktop: DesktopSession, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, types={**ONLY_ORDERS, "payment_received": True})
    recording = desktop.start_recording(tmp_path / "played.wav")
    app = start_app(desktop, home)
    try:
        wait_until(lambda: in_log(home, "playing sound"), timeout=90, what="a sound to start")
        wait_until(
            lambda: " finished" in app_log(home).split("playing sound", 1)[1],
            timeout=20,
            what="the sound to finish",
        )
    finally:
        desktop.stop_recording()
    assert peak_amplitude(recording) > 0.05, "the recording of the sink is silent"
    assert not in_log(home, "notification sounds are off")
    stop_app(desktop, app, home, "app")


# --- screenshots ----------------------------------------------------------------------------


def run_driver(desktop: DesktopSession, home: Path, what: str) -> tuple[Any, list[Any]]:
    name = f"driver-{what}"
    process = desktop.spawn(
        [sys.executable, "-c", DRIVER, what],
        name=name,
        env={"SELLER_NOTIFIER_HOME": str(home), "QT_QPA_PLATFORM": "xcb"},
    )

    def reported() -> list[Any] | None:
        for line in desktop.log(name).splitlines():
            if line.startswith("[["):
                return list(json.loads(line))
        if process.poll() is not None:
            pytest.fail(f"the driver exited: {desktop.log(name)}")
        return None

    return process, wait_until(reported, timeout=30, what=f"{what} on screen")


@pytest.mark.desktop(tray=False, status_notifier=False, sound=False, notification_daemon=False)
def test_toasts_in_every_corner_on_a_real_screen(desktop: DesktopSession, tmp_path: Path) -> None:
    width, height = (int(v) for v in desktop.screen.split("x")[:2])
    for corner in CORNERS:
        process, toasts = run_driver(desktop, tmp_path / corner, corner)
        assert len(toasts) == 4
        for _title, x, y, w, h in toasts:
            if corner.endswith("right"):
                assert x + w == width - 16
            else:
                assert x == 16
            assert 0 <= y and y + h <= height
        first = toasts[0]
        if corner.startswith("top"):
            assert first[2] == 16
        else:
            assert first[2] + first[4] == height - 16

        shot = tmp_path / f"toasts-{corner}.png"

        def painted(shot: Path = shot, rect: list[Any] = first) -> bool:
            desktop.screenshot(shot)
            return brightness(desktop, shot, (rect[1] + 40, rect[2] + 8, rect[3] - 60, 20)) > 0.5

        wait_until(painted, timeout=15, what=f"the toasts in the {corner} corner to be drawn")
        # Docs show the quarter of the screen with the toasts.
        left = 0 if corner.endswith("left") else width // 2
        top = 0 if corner.startswith("top") else height // 2
        cropped = tmp_path / f"crop-{corner}.png"
        desktop.run(
            ["convert", str(shot), "-crop", f"{width // 2}x{height // 2}+{left}+{top}",
             "+repage", str(cropped)]  # fmt: skip
        )
        publish_screenshot(cropped, f"toasts-{corner}.png")
        desktop.stop(process)


@pytest.mark.desktop(tray=False, status_notifier=False, sound=False, notification_daemon=False)
def test_settings_window_screenshot(desktop: DesktopSession, tmp_path: Path) -> None:
    process, windows = run_driver(desktop, tmp_path / "home", "dialog")
    (_title, x, y, w, h) = windows[0]
    shot = tmp_path / "screen.png"

    def painted() -> bool:
        desktop.screenshot(shot)
        return brightness(desktop, shot, (x, y, w, h)) > 0.5

    wait_until(painted, timeout=15, what="the settings window to be drawn")
    cropped = tmp_path / "settings-dialog.png"
    desktop.run(["convert", str(shot), "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(cropped)])
    publish_screenshot(cropped, "settings-dialog.png")
    desktop.stop(process)
