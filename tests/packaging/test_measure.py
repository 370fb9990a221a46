"""The measuring tool: launch-until-marker and sizes (on tiny stand-in programs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from packaging_tools import measure

# Prints a marker into a file, then waits for SIGTERM and exits 0.
_MARKER_PROGRAM = """
import signal, sys, threading
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
with open(sys.argv[1], "w") as out:
    out.write("ready: tray icon shown\\n")
done.wait(30)
"""


def test_launch_until_returns_the_marker_and_the_clean_exit(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"

    def reached() -> str | None:
        text = log.read_text() if log.exists() else ""
        return "tray icon shown" if "tray icon shown" in text else None

    seconds, marker, code = measure.launch_until(
        [sys.executable, "-c", _MARKER_PROGRAM, str(log)],
        env=os.environ,
        reached=reached,
        timeout=30,
    )
    assert marker == "tray icon shown"
    assert code == 0
    assert seconds > 0


def test_a_program_that_exits_before_its_marker_is_reported(tmp_path: Path) -> None:
    with pytest.raises(measure.MeasureError, match="exited with 3 first"):
        measure.launch_until(
            [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
            env=os.environ,
            reached=lambda: None,
            timeout=30,
        )


def test_tree_size_counts_file_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 5000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 3000)
    size = measure.tree_size(tmp_path)
    assert 8000 <= size < 8000 + 3 * 4096 + 100  # plus the directories themselves


def test_the_report_marks_figures_over_budget() -> None:
    report = measure.Report(bundle_bytes=130_000_000, deb_bytes=40_000_000)
    text = measure.format_report(report)
    assert "bundle (du -sb):  130.0 MB  (OVER BUDGET)" in text
    assert ".deb:             40.0 MB  (budget ok)" in text
