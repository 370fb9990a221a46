"""Footprint: idle memory and CPU of the connected tray app, and a leak check.

Idle: the real tray app (saved settings pointing at a real gateway process) under
Xvfb + trayer, connected and idle, vs the minimal PySide6 tray app, same session.
Leak: resident memory of the same app after 1,000 events and after 100,000.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.desktop import DesktopSession
from bench.figures import Figure, Goal
from bench.processes import ROOT, WALLET, GatewayProcess, cpu_seconds, gateway, rss_kib


def received(home: Path) -> int:
    db = home / "data" / "client.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def tray_app(
    session: DesktopSession, gw: GatewayProcess
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    with tempfile.TemporaryDirectory(prefix="bench-app-") as directory:
        home = Path(directory)
        (home / "config").mkdir()
        (home / "config" / "settings.json").write_text(
            json.dumps({"connection": {"server_url": gw.url, "wallet": WALLET}})
        )
        env = {
            **session.env,
            "SELLER_NOTIFIER_HOME": str(home),
            "SELLER_NOTIFIER_TOKEN": gw.token(),
            "PYTHONPATH": str(ROOT),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield process, home
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def publish(gw: GatewayProcess, count: int) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.publish_at_rate",
            gw.url,
            gw.publish_key,
            WALLET,
            str(count),
            "0",
        ],
        cwd=ROOT,
        env=gw.env(),
        check=True,
        timeout=600,
    )


def until_connected(gw: GatewayProcess, home: Path) -> None:
    """A fresh app asks for live events only: publish until one arrives."""
    for _ in range(60):
        publish(gw, 1)
        try:
            wait_for(lambda: received(home) >= 1, 1.0, "the first event")
            return
        except TimeoutError:
            continue
    raise TimeoutError("the app never connected")


def idle(pid: int, seconds: float) -> tuple[float, float]:
    """(RSS in MiB at the end, CPU % over the window) of an idle process."""
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # a benchmark's measuring window, not synchronisation
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started) * 100
    return rss_kib(pid) / 1024, cpu


def run(quick: bool) -> list[Figure]:
    window = 10.0 if quick else 60.0
    many = 20_000 if quick else 100_000
    with DesktopSession(status_notifier=False, sound=False, notification_daemon=False) as session:
        with gateway() as gw:
            with tray_app(session, gw) as (app, home):
                until_connected(gw, home)
                ours_rss, ours_cpu = idle(app.pid, window)
            base = subprocess.Popen(
                [sys.executable, "-m", "bench.minimal_tray"],
                cwd=ROOT,
                env={**session.env, "PYTHONPATH": str(ROOT)},
            )
            try:
                time.sleep(2)  # let it finish starting; then the same idle window
                base_rss, base_cpu = idle(base.pid, window)
            finally:
                base.terminate()
                base.wait(timeout=15)

        with gateway() as gw:
            with tray_app(session, gw) as (app, home):
                until_connected(gw, home)
                publish(gw, 1000)
                wait_for(lambda: received(home) >= 1000, 120, "1,000 events in the app")
                time.sleep(2)
                after_1k = rss_kib(app.pid) / 1024
                publish(gw, many - 1000)
                wait_for(lambda: received(home) >= many, 900, f"{many} events in the app")
                time.sleep(2)
                after_many = rss_kib(app.pid) / 1024
    return [
        Figure(
            "idle memory (RSS), connected",
            "MiB",
            [ours_rss],
            [base_rss],
            "minimal PySide6 tray app",
            [Goal("max_ratio", 1.6)],
            f"after {window:.0f} s connected and idle, under Xvfb + trayer.",
        ),
        Figure(
            "idle CPU, connected",
            "%",
            [ours_cpu],
            [base_cpu],
            "minimal PySide6 tray app",
            [Goal("max", 0.5)],
            "CPU time used over the idle window; ≈ 0 means no busy polling.",
        ),
        Figure(
            f"leak check: RSS after {many:,} events − after 1,000",
            "MiB",
            [after_many - after_1k],
            None,
            "",
            [Goal("max", 5.0)],
            f"RSS after 1,000 events: {after_1k:.1f} MiB; after {many:,}: {after_many:.1f} MiB.",
        ),
    ]
