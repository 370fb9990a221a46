"""The real `seller-notifier --demo` under Xvfb with a tray host: icon, toasts, clean exit."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest
from desktop_session import DesktopSession, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

ARTIFACTS = Path(os.environ.get("SELLER_NOTIFIER_ARTIFACTS", "test-artifacts"))
SCREEN_WIDTH = 1280

# One xwininfo -tree line: 0x1a00007 "Title": ("name" "Class")  340x84+924+16  +924+16
_WINDOW = re.compile(r'^\s*0x[0-9a-f]+ "(?P<title>[^"]*)".*?\s(?P<w>\d+)x(?P<h>\d+)'
                     r"[+-]-?\d+[+-]-?\d+\s+\+(?P<x>-?\d+)\+(?P<y>-?\d+)")

TOAST_TITLES = ("New order", "Payment", "Order", "review", "tier", "Analytics", "Marketplace")


def toast_windows(desktop: DesktopSession) -> list[tuple[str, int, int, int, int]]:
    tree = desktop.run(["xwininfo", "-root", "-tree"]).stdout.decode(errors="replace")
    found = []
    for line in tree.splitlines():
        match = _WINDOW.match(line)
        if match and any(word in match["title"] for word in TOAST_TITLES):
            geometry = tuple(int(match[k]) for k in ("x", "y", "w", "h"))
            found.append((match["title"], *geometry))
    return found  # type: ignore[return-value]


def start_demo(desktop: DesktopSession, home: Path) -> object:
    return desktop.spawn(
        [sys.executable, "-m", "app", "--demo"],
        name="demo",
        env={"SELLER_NOTIFIER_HOME": str(home), "QT_QPA_PLATFORM": "xcb"},
    )


@pytest.mark.desktop(status_notifier=False)
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_demo_shows_tray_icon_and_toasts_then_exits_0(
    desktop: DesktopSession, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    (panel,) = desktop.window_ids("panel")
    app = start_demo(desktop, tmp_path / "home")

    # The tray host embeds our icon: it is drawn in the panel.
    desktop.wait_for_window("Seller Notifier", under=panel, timeout=30)
    # Toasts are real windows in the top-right corner of the screen.
    toasts = wait_until(lambda: toast_windows(desktop), timeout=30, what="a toast window")
    title, x, y, width, height = toasts[0]
    assert x + width > SCREEN_WIDTH - 80, f"toast {title!r} not at the right edge: x={x}"
    assert y < 200, f"toast {title!r} not at the top: y={y}"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desktop.screenshot(ARTIFACTS / f"demo-toasts-{stop_signal.name.lower()}.png")

    app.send_signal(stop_signal)  # type: ignore[attr-defined]
    code = app.wait(timeout=20)  # type: ignore[attr-defined]
    log = desktop.log("demo")
    assert code == 0, log
    assert "Traceback" not in log, log
