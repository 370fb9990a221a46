"""The benchmarks still run (their figures are measured by `make bench`, never here)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import MODULES
from bench.figures import Figure, Goal
from bench.report import render_markdown, write

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_module_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(name)
    assert list(inspect.signature(module.run).parameters) == ["quick"]


def test_the_report_shows_ours_baseline_ratio_goal_and_verdict(tmp_path: Path) -> None:
    figures = [
        Figure("lag", "ms", [10.0, 30.0, 20.0], [5.0, 5.0], "bare loop", [Goal("max", 50.0)]),
        Figure("ratio", "x", [4.0], [1.0], "raw read", [Goal("max_ratio", 3.0)]),
    ]
    markdown, data = write(figures, tmp_path, ["- a finding"])
    text = markdown.read_text()
    assert "| lag | 20 ms | 10–30 | bare loop | 5 ms | 4.00 | ≤ 50 ms | pass |" in text
    assert "| ratio | 4 x | 4–4 | raw read | 1 x | 4.00 | ratio ≤ 3 | miss |" in text
    assert "- a finding" in text
    assert '"result": "miss"' in data.read_text()
    assert "cores" in render_markdown(
        figures, {"date": "d", "cores": 2, "platform": "p", "python": "3", "versions": {}}, []
    )


def test_a_real_benchmark_runs_end_to_end_in_quick_mode(tmp_path: Path) -> None:
    # The cheapest one (a few seconds): proves the harness, a gateway process and the
    # report still work together. It checks that it ran, not how fast.
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "resume", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reconnect after gateway restart" in (tmp_path / "BENCHMARKS.md").read_text()


def test_an_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "no benchmark 'nope'" in result.stderr
