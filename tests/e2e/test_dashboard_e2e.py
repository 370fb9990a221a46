"""The real `seller-notifier --demo` under Xvfb: the dashboard opens and moves with live data.

A second launch asks the running app to show its dashboard (the single-instance
path, like the tray's "Open dashboard"). Two screenshots of the dashboard window
a few seconds apart must differ: new orders, figures and the chart arrive live.
Screenshots are kept in test-artifacts/ (``dashboard.png`` is the README's).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from desktop_session import DesktopSession, wait_until

from app.config.paths import app_paths
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.demo import DEMO_WALLET
from app.gateway.simulator import Simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ARTIFACTS = Path(os.environ.get("SELLER_NOTIFIER_ARTIFACTS", "test-artifacts"))
TITLE = "Seller Notifier — Dashboard"


# The field of each event type that says when it happened at the marketplace.
_WHEN = {
    "new_order": "created_at",
    "order_status_changed": "changed_at",
    "payment_received": "received_at",
    "review_received": "created_at",
    "tier_upgraded": "upgraded_at",
    "analytics_update": "generated_at",
}


async def seed_demo_history(home: Path, events: int, span: timedelta) -> None:
    """A day of the demo shop's history in the demo gateway's log (seeded, so every run
    looks the same), as if the demo had been running: the app replays it on start."""
    log = SqliteEventLog(app_paths(home).gateway_db)
    simulator = Simulator([DEMO_WALLET], seed=11)
    now = datetime.now(UTC)
    try:
        for n in range(events):
            wallet, event = simulator.next_event()
            field = _WHEN.get(event.type)
            if field is not None:
                when = now - span * (1 - n / events)
                event = event.model_copy(update={field: when})
            await log.append(wallet, event)
    finally:
        await log.close()


def grab_window(desktop: DesktopSession, window: int, path: Path) -> bytes:
    """The window's pixels (xwd), also written to ``path`` as PNG."""
    raw = desktop.run(["xwd", "-id", str(window), "-silent", "-display", desktop.display])
    desktop.run(["convert", "xwd:-", f"png:{path}"], input=raw.stdout, timeout=30)
    return raw.stdout


@pytest.mark.desktop(status_notifier=False, sound=False)
def test_open_dashboard_shows_live_orders_figures_and_chart(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    app_paths(home).ensure()
    asyncio.run(seed_demo_history(home, 240, timedelta(hours=20)))
    # Toasts would cover the window in the screenshots: notifications stay paused.
    app_paths(home).settings_file.write_text(
        json.dumps({"notifications": {"paused_until": "9999-12-31T00:00:00Z"}}), encoding="utf-8"
    )
    env = {"SELLER_NOTIFIER_HOME": str(home), "QT_QPA_PLATFORM": "xcb"}
    app = desktop.spawn([sys.executable, "-m", "app", "--demo"], name="demo", env=env)
    (panel,) = desktop.window_ids("panel")
    desktop.wait_for_window("Seller Notifier", under=panel, timeout=30)

    # "Open dashboard": a second launch hands over to the running app and exits.
    second = subprocess.run(
        [sys.executable, "-m", "app", "--demo"],
        env={**desktop.env, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 0, second.stderr
    (window,) = desktop.wait_for_window(TITLE, timeout=30)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    first = grab_window(desktop, window, ARTIFACTS / "dashboard-live-1.png")
    # The demo publishes an event every two seconds: the window must change.
    wait_until(
        lambda: grab_window(desktop, window, ARTIFACTS / "dashboard-live-2.png") != first,
        timeout=30,
        what="the dashboard to change with live events",
    )
    grab_window(desktop, window, ARTIFACTS / "dashboard.png")

    app.send_signal(signal.SIGTERM)
    code = app.wait(timeout=20)
    log = desktop.log("demo")
    assert code == 0, log
    assert "Traceback" not in log, log
