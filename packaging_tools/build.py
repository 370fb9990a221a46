"""``python -m packaging_tools.build`` (``make package``): the bundle and the .deb.

Steps, each timed:

1. render the icons (PNG, ICO, ICNS) from the SVG into ``build/icons``;
2. PyInstaller with ``packaging/seller-notifier.spec`` -> ``dist/seller-notifier/``;
3. ``--baseline``: the minimal PySide6 tray app, bundled the same way ->
   ``dist/baseline/minimal-tray/`` (for :mod:`packaging_tools.measure`);
4. Linux: check the system libraries the bundle needs against the .deb's
   ``Depends`` and against this host's dpkg database;
5. Linux with dpkg-deb: the .deb -> ``dist/seller-notifier_<version>_<arch>.deb``.

Exit status 0 on success, 1 with a one-line reason on stderr otherwise.  The
figures are written to ``build/package-report.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging_tools import deb, icons, linux_deps

__all__ = ["ROOT", "BuildError", "BuildReport", "main", "run_pyinstaller"]

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "seller-notifier.spec"
BASELINE_SPEC = ROOT / "packaging" / "baseline" / "minimal-tray.spec"
APP_ICON = ROOT / "resources" / "icons" / "seller-notifier.svg"
DESKTOP_FILE = ROOT / "resources" / "seller-notifier.desktop"


class BuildError(Exception):
    """A build step failed; the message says which and why, in one line."""


@dataclass
class BuildReport:
    """Timings (seconds) and outputs of one build, saved as JSON."""

    version: str
    seconds: dict[str, float] = field(default_factory=dict)
    bundle: str | None = None
    deb: str | None = None
    depends: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _timed(report: BuildReport, step: str, started: float) -> None:
    report.seconds[step] = round(time.perf_counter() - started, 2)


def run_pyinstaller(spec: Path, dist: Path, work: Path, *, icon_dir: Path | None = None) -> None:
    """Run PyInstaller on ``spec``; its log goes to ``work/<spec stem>.log``."""
    env = dict(os.environ)
    if icon_dir is not None:
        env["SELLER_NOTIFIER_ICON_DIR"] = str(icon_dir)
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"{spec.stem}.log"
    with log.open("w", encoding="utf-8") as handle:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--log-level",
                "WARN",
                "--distpath",
                str(dist),
                "--workpath",
                str(work),
                str(spec),
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        raise BuildError(f"PyInstaller failed on {spec.name} (full log: {log})")


def _check_depends(bundle: Path, report: BuildReport) -> list[str]:
    try:
        sonames = linux_deps.missing_sonames(bundle)
        clauses = linux_deps.depends(sonames)
    except linux_deps.UnknownLibraries as exc:
        raise BuildError(str(exc).replace("\n", " ")) from None
    for found in linux_deps.host_packages(list(sonames)):
        expected = linux_deps.SYSTEM_LIBRARIES[found.soname]
        if found.path is None:
            report.warnings.append(
                f"{found.soname} is not installed on this host (the .deb depends on {expected})"
            )
        elif found.package is not None:
            alternatives = [part.strip() for part in expected.split("|")]
            if found.package not in alternatives:
                raise BuildError(
                    f"{found.soname} comes from {found.package} on this host, but "
                    f"SYSTEM_LIBRARIES says {expected!r}"
                )
    return clauses


def build(
    *,
    dist: Path,
    work: Path,
    bundle: bool = True,
    baseline: bool = False,
    make_deb: bool = True,
    compression: str = "xz",
) -> BuildReport:
    """Run the build steps; raises :class:`BuildError` on the first failure."""
    from app import __version__

    report = BuildReport(version=__version__)
    started_all = time.perf_counter()

    started = time.perf_counter()
    written = icons.write_all(APP_ICON, work / "icons")
    _timed(report, "icons", started)

    app_bundle = dist / "seller-notifier"
    if (bundle or baseline) and importlib.util.find_spec("PyInstaller") is None:
        raise BuildError("PyInstaller is not installed: pip install -e '.[package]'")
    if bundle:
        started = time.perf_counter()
        run_pyinstaller(SPEC, dist, work / "pyinstaller", icon_dir=work / "icons")
        _timed(report, "pyinstaller", started)
    if (
        not (app_bundle / "seller-notifier").exists()
        and not (app_bundle / "seller-notifier.exe").exists()
    ):
        raise BuildError(f"no bundle at {app_bundle}: run without --skip-bundle")
    report.bundle = str(app_bundle)

    if baseline:
        started = time.perf_counter()
        run_pyinstaller(BASELINE_SPEC, dist / "baseline", work / "baseline")
        _timed(report, "baseline", started)

    if sys.platform.startswith("linux"):
        started = time.perf_counter()
        report.depends = _check_depends(app_bundle, report)
        _timed(report, "depends-check", started)
        if make_deb:
            if shutil.which("dpkg-deb") is None:
                raise BuildError("dpkg-deb not found: install dpkg, or pass --no-deb")
            started = time.perf_counter()
            version = deb.debian_version(__version__)
            architecture = deb.dpkg_architecture()
            spec = deb.stage(
                app_bundle,
                work / "deb-root",
                spec=deb.DebSpec(version, architecture, tuple(report.depends)),
                desktop_file=DESKTOP_FILE,
                svg_icon=APP_ICON,
                png_icon=written["png"],
            )
            output = dist / deb.deb_file_name(spec.version, spec.architecture)
            for stale in dist.glob(f"{deb.PACKAGE}_*.deb"):
                stale.unlink()
            deb.build_deb(work / "deb-root", output, compression=compression)
            report.deb = str(output)
            _timed(report, "deb", started)

    _timed(report, "total", started_all)
    (work / "package-report.json").write_text(
        json.dumps(report.__dict__, indent=2) + "\n", encoding="utf-8"
    )
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m packaging_tools.build",
        description="Build the PyInstaller bundle and (on Debian/Ubuntu) the .deb.",
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="scratch folder")
    parser.add_argument(
        "--skip-bundle", action="store_true", help="reuse dist/seller-notifier as it is"
    )
    parser.add_argument("--baseline", action="store_true", help="also bundle the minimal tray app")
    parser.add_argument("--no-deb", action="store_true", help="stop after the bundle")
    parser.add_argument(
        "--compression",
        choices=("xz", "zstd", "gzip"),
        default="xz",
        help="dpkg-deb compression (xz: smallest; zstd: fastest)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = build(
            dist=args.dist.resolve(),
            work=args.work.resolve(),
            bundle=not args.skip_bundle,
            baseline=args.baseline,
            make_deb=not args.no_deb,
            compression=args.compression,
        )
    except (BuildError, OSError, subprocess.CalledProcessError) as exc:
        print(f"packaging_tools.build: {exc}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.seconds.items())
    print(f"seller-notifier {report.version}: {steps}")
    print(f"  bundle: {report.bundle}")
    if report.deb:
        print(f"  deb:    {report.deb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
