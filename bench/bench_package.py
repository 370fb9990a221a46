"""The Linux package: bundle and .deb sizes, and launch of the bundle to its tray icon.

Uses what `make package` built (dist/seller-notifier, dist/*.deb, and the baseline
bundle dist/baseline/minimal-tray from `python -m packaging_tools.build --baseline`)
— building takes minutes, so `make bench` does not build. Launches run under Xvfb
with a tray host (packaging_tools.measure --desktop); the baseline is a minimal
PySide6 tray app bundled by the same rules.
"""

from __future__ import annotations

import sys

from bench.figures import Figure, Goal
from bench.processes import ROOT


def run(quick: bool) -> list[Figure]:
    from packaging_tools.measure import measure

    bundle = ROOT / "dist" / "seller-notifier"
    program = bundle / "seller-notifier"
    if not program.exists():
        print("bench: package: no dist/seller-notifier — run `make package` first", file=sys.stderr)
        return []
    debs = sorted((ROOT / "dist").glob("seller-notifier_*.deb"))
    baseline = ROOT / "dist" / "baseline" / "minimal-tray"  # holds the program of that name
    runs = 3 if quick else 5
    report = measure(
        bundle=bundle,
        deb=debs[-1] if debs else None,
        baseline=baseline if baseline.is_dir() else None,
        program=program,
        runs=runs,
        desktop=True,
    )
    figures: list[Figure] = []
    if report.bundle_bytes is not None:
        figures.append(
            Figure(
                "installed bundle size",
                "MB",
                [report.bundle_bytes / 1e6],
                [report.baseline_bytes / 1e6] if report.baseline_bytes else None,
                "minimal PySide6 tray app, same rules",
                [Goal("max", 120.0)],
                "PyInstaller one-folder, pruned Qt, no UPX (see docs/packaging.md).",
            )
        )
    if report.deb_bytes is not None:
        figures.append(
            Figure(".deb size (xz)", "MB", [report.deb_bytes / 1e6], None, "", [Goal("max", 45.0)])
        )
    if report.launch is not None:
        base = report.baseline_launch
        figures.append(
            Figure(
                "packaged app: launch → tray icon shown",
                "s",
                report.launch.seconds,
                base.seconds if base else None,
                "minimal PySide6 tray app, bundled",
                [Goal("max", 1.0)],
                f"the frozen bundle with --demo, {runs} launches each under Xvfb + trayer; "
                "the moment is the icon window appearing in the tray.",
            )
        )
    return figures
