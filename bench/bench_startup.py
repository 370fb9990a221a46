"""Start-up: process start → tray icon shown, vs a minimal PySide6 tray app.

Both run under Xvfb with a tray host (the end-to-end tests' DesktopSession), each
started fresh several times; the moment the icon is shown is reported by the app
itself (``SELLER_NOTIFIER_STARTUP_TRACE``), so no screen polling adds noise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from bench.desktop import DesktopSession, missing_programs
from bench.figures import Figure, Goal
from bench.processes import ROOT


def launch_once(session: DesktopSession, args: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-start-") as home:
        env = {
            **session.env,
            "SELLER_NOTIFIER_HOME": home,
            "SELLER_NOTIFIER_STARTUP_TRACE": "1",
            "PYTHONPATH": str(ROOT),
        }
        started = time.time()
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        shown = None
        deadline = time.monotonic() + 30
        for line in process.stderr:
            if line.startswith("startup-trace tray-icon-shown"):
                shown = float(line.split()[2])
                break
            if time.monotonic() > deadline:
                break
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        if shown is None:
            raise RuntimeError(f"{args} never showed its tray icon")
        return shown - started


def run(quick: bool) -> list[Figure]:
    missing = missing_programs(status_notifier=False, sound=False, notification_daemon=False)
    if missing:
        raise RuntimeError(f"start-up needs {', '.join(missing)} (see tests/e2e/apt-packages.txt)")
    runs = 3 if quick else 7
    ours: list[float] = []
    base: list[float] = []
    ours_args = [sys.executable, "-m", "app", "--demo"]
    base_args = [sys.executable, "-m", "bench.minimal_tray"]
    with DesktopSession(status_notifier=False, sound=False, notification_daemon=False) as session:
        launch_once(session, ours_args)  # warm the OS file cache for both, unmeasured
        launch_once(session, base_args)
        for _ in range(runs):  # interleaved, so drifting machine load hits both alike
            ours.append(launch_once(session, ours_args))
            base.append(launch_once(session, base_args))
    return [
        Figure(
            "start-up: process start → tray icon shown",
            "s",
            ours,
            base,
            "minimal PySide6 tray app",
            [Goal("max", 1.0)],
            f"median of {runs} launches each (interleaved) under Xvfb + trayer, from source "
            f"(`python -m app --demo`); the installed .deb is measured in docs/packaging.md. "
            f"Python {sys.version.split()[0]}, cwd {os.path.basename(ROOT)}.",
        )
    ]


if __name__ == "__main__":
    for figure in run(quick=True):
        print(figure)

