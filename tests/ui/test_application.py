"""The real ``seller-notifier`` process: demo toasts, clean exits on every signal, one instance."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.ui.application import platform_problem

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).with_name("seller-notifier")
START_DEADLINE = 30.0
EXIT_DEADLINE = 20.0


def command(*args: str) -> list[str]:
    if EXE.exists():
        return [str(EXE), *args]
    return [sys.executable, "-m", "app", *args]


def app_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", SELLER_NOTIFIER_HOME=str(home))
    for key in ("SELLER_NOTIFIER_TOKEN", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(key, None)
    env.update(extra)
    return env


def wait_until(
    condition: Callable[[], bool],
    what: str,
    process: subprocess.Popen[str],
    deadline: float = START_DEADLINE,
) -> None:
    """Poll ``condition`` until it holds; fail at once if the process died."""
    end = time.monotonic() + deadline
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the app exited with {process.returncode} before {what}: {err}")
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling interval, not synchronisation


def stored_events(home: Path) -> int:
    db = home / "data" / "client.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def log_text(home: Path) -> str:
    path = home / "log" / "seller-notifier.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture
def launch(isolated_home: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **env: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            command(*args),
            env=app_env(isolated_home, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    process.send_signal(sig)
    _, err = process.communicate(timeout=EXIT_DEADLINE)
    return process.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_demo_shows_events_and_exits_cleanly_on_signal(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path, sig: signal.Signals
) -> None:
    app = launch("--demo")
    wait_until(lambda: stored_events(isolated_home) >= 1, "a demo event", app, deadline=10)
    wait_until(lambda: "first event received" in log_text(isolated_home), "a toast", app)
    code, err = stop(app, sig)
    assert code == 0, err
    assert "Traceback" not in err
    assert "shutting down" in log_text(isolated_home)


def test_demo_resumes_where_it_stopped(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path
) -> None:
    first = launch("--demo")
    wait_until(lambda: stored_events(isolated_home) >= 2, "two demo events", first)
    assert stop(first, signal.SIGTERM)[0] == 0
    seen = stored_events(isolated_home)
    second = launch("--demo")
    wait_until(lambda: stored_events(isolated_home) > seen, "a new demo event", second)
    code, err = stop(second, signal.SIGTERM)
    assert code == 0, err
    with sqlite3.connect(isolated_home / "data" / "client.sqlite3") as conn:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)), "nothing lost, nothing twice"


def test_second_launch_hands_over_and_exits(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path
) -> None:
    first = launch("--demo")
    wait_until(lambda: stored_events(isolated_home) >= 1, "a demo event", first)
    second = launch("--demo")
    _, err = second.communicate(timeout=EXIT_DEADLINE)
    assert second.returncode == 0, err
    assert "already running" in err
    wait_until(
        lambda: "asked to show the dashboard" in log_text(isolated_home),
        "the first instance to be raised",
        first,
    )
    assert first.poll() is None, "the first instance keeps running"
    assert stop(first, signal.SIGTERM)[0] == 0


def test_quit_during_startup_still_exits_cleanly(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path
) -> None:
    app = launch("--demo")
    wait_until(lambda: "starting" in log_text(isolated_home), "startup", app)
    code, err = stop(app, signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err


def test_not_configured_says_so_and_keeps_running(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path
) -> None:
    app = launch()
    wait_until(
        lambda: "notice: Not configured yet" in log_text(isolated_home),
        "the not-configured notice",
        app,
    )
    code, err = stop(app, signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err


def test_damaged_settings_are_reported_not_fatal(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path
) -> None:
    settings = isolated_home / "config" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text("{not json", encoding="utf-8")
    app = launch()
    wait_until(
        lambda: "Settings file was damaged" in log_text(isolated_home),
        "the damaged-settings notice",
        app,
    )
    assert stop(app, signal.SIGTERM)[0] == 0
    assert list(settings.parent.glob("settings.damaged-*.json")), "the damaged file is kept"


def test_refused_token_is_shown_and_the_app_stays(
    launch: Callable[..., subprocess.Popen[str]], isolated_home: Path, wallet_a: str
) -> None:
    # A real gateway (the demo's, in its own process) that does not know this token.
    gateway_home = isolated_home / "gateway-side"
    gateway = launch("--demo", SELLER_NOTIFIER_HOME=str(gateway_home))
    wait_until(lambda: "demo gateway on ws://" in log_text(gateway_home), "the gateway", gateway)
    url = log_text(gateway_home).split("demo gateway on ")[1].split()[0]

    settings = isolated_home / "config" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"connection": {"server_url": url, "wallet": wallet_a}}))
    app = launch(SELLER_NOTIFIER_TOKEN="not-a-valid-token")
    wait_until(
        lambda: "notice: The server refused this device" in log_text(isolated_home),
        "the refusal notice",
        app,
    )
    assert app.poll() is None, "a refused token does not end the app"
    code, err = stop(app, signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err
    assert stop(gateway, signal.SIGTERM)[0] == 0


def test_no_display_is_one_line_and_exit_1(isolated_home: Path) -> None:
    env = app_env(isolated_home, QT_QPA_PLATFORM="xcb")
    result = subprocess.run(command(), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISPLAY" in lines[0], result.stderr


def test_missing_xcb_libraries_name_the_packages() -> None:
    def find(name: str) -> str | None:
        return None if name in ("xcb-cursor", "xkbcommon-x11") else f"lib{name}.so"

    problem = platform_problem({"DISPLAY": ":0"}, find=find)
    assert problem is not None and "\n" not in problem
    assert problem.endswith("sudo apt install libxcb-cursor0 libxkbcommon-x11-0")
    assert platform_problem({"DISPLAY": ":0"}, find=lambda name: "x") is None
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}, find=find) is None


def test_thousands_of_void_qt_calls_exit_cleanly(isolated_home: Path) -> None:
    # PySide6 6.12.0 on CPython 3.11 aborted at exit (none_dealloc) after ~1000 such calls.
    code = (
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication, QWidget\n"
        "app = QApplication([])\n"
        "w = QWidget()\n"
        "t = QTimer()\n"
        "for i in range(5000):\n"
        "    w.setToolTip(str(i))\n"
        "    t.setInterval(i)\n"
        "    t.stop()\n"
        "print('done')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=app_env(isolated_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
