"""``python -m bench [--quick] [--only NAME …]``: run the benchmarks, write the report."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.figures import Figure, Goal
from bench.report import write

# Each module exposes ``run(quick: bool) -> list[Figure]``; order is the report's order.
MODULES = [
    "bench.bench_latency",
    "bench.bench_burst",
    "bench.bench_footprint",
    "bench.bench_startup",
    "bench.bench_resume",
    "bench.bench_dashboard",
    "bench.bench_gateway",
    "bench.bench_package",
]

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = Path(__file__).resolve().parent / "FINDINGS.md"


def available() -> dict[str, Callable[[bool], list[Figure]]]:
    found: dict[str, Callable[[bool], list[Figure]]] = {}
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # not written yet
            raise
        found[name.rsplit(".", 1)[1].removeprefix("bench_")] = module.run
    return found


def merge_with_previous(figures: list[Figure], previous: Path) -> list[Figure]:
    if not previous.exists():
        return figures
    fresh = {figure.name for figure in figures}
    kept = [
        Figure(
            name=item["name"],
            unit=item["unit"],
            ours=item["ours"],
            baseline=item["baseline"],
            baseline_name=item["baseline_name"],
            goals=[Goal(goal["kind"], goal["limit"]) for goal in item["goals"]],
            note=item["note"],
        )
        for item in json.loads(previous.read_text(encoding="utf-8"))["figures"]
        if item["name"] not in fresh
    ]
    return kept + figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    parser.add_argument("--output", type=Path, default=ROOT / "docs", help="report directory")
    args = parser.parse_args(argv)

    benchmarks = available()
    chosen = args.only or list(benchmarks)
    figures: list[Figure] = []
    failed = []
    for name in chosen:
        if name not in benchmarks:
            print(f"bench: no benchmark {name!r}; have {', '.join(benchmarks)}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            figures += benchmarks[name](args.quick)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        print(f"   {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    if args.only:
        # A partial run updates its own rows and keeps the others' last figures.
        figures = merge_with_previous(figures, args.output / "benchmarks.json")
    notes = FINDINGS.read_text(encoding="utf-8").splitlines() if FINDINGS.exists() else []
    markdown, _ = write(figures, args.output, notes)
    print(f"wrote {markdown}", file=sys.stderr)
    for figure in figures:
        print(f"{figure.name}: {figure.ours_median:.4g} {figure.unit} ({figure.verdict})")
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
