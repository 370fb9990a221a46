"""``python -m packaging_tools.measure``: size and start-up figures of the Linux build.

Reports, against the budgets in :data:`BUDGETS`:

* the bundle's size on disk (``du -sb dist/seller-notifier``) and the .deb's size;
* launch time to "tray icon shown", median of ``--runs`` (5) launches of the
  app (installed ``/usr/bin/seller-notifier`` if present, else the bundle) with
  ``--demo`` and a fresh ``SELLER_NOTIFIER_HOME`` each time, then SIGTERM;
* the same figures for the minimal PySide6 tray app bundled by the same rules
  (``dist/baseline/minimal-tray``, from ``packaging_tools.build --baseline``);
* the time to print ``--version`` (process start-up without Qt).

"Tray icon shown" is the moment the app logs :data:`APP_TRAY_MARKERS` (its log
file) or the baseline prints :data:`BASELINE_TRAY_MARKERS` (stdout).  Offscreen
(the default: no display needed) there is no tray, so the moment is the app
logging that it has none, right where it would show the icon.  With
``--desktop`` the launches run in a private Xvfb session with a tray host
(``tests/e2e/desktop_session.py``) and the moment is the icon window appearing
in the tray.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "APP_TRAY_MARKERS",
    "BASELINE_TRAY_MARKERS",
    "BUDGETS",
    "Launch",
    "MeasureError",
    "Report",
    "launch_until",
    "main",
    "measure",
    "tree_size",
]

ROOT = Path(__file__).resolve().parent.parent

#: name -> (limit, unit).  Sizes in bytes (MB = 10**6), times in seconds.
BUDGETS: dict[str, tuple[float, str]] = {
    "bundle_bytes": (120e6, "bytes"),
    "deb_bytes": (45e6, "bytes"),
    "launch_seconds": (1.0, "s"),
}

#: Log lines of the app that mark "tray icon shown" (the second one: no tray here).
APP_TRAY_MARKERS: tuple[str, ...] = ("tray icon shown", "no system tray on this desktop")
#: Lines the baseline prints on stdout at the same moment.
BASELINE_TRAY_MARKERS: tuple[str, ...] = ("tray icon shown", "no system tray")

_POLL = 0.005  # seconds between looks at the log; bounds the measuring error


class MeasureError(RuntimeError):
    """A launch did not reach its marker, or exited badly."""


@dataclass
class Launch:
    """Launch timings of one program: every run, and which marker ended each."""

    program: str
    seconds: list[float] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Report:
    bundle_bytes: int | None = None
    deb_bytes: int | None = None
    baseline_bytes: int | None = None
    launch: Launch | None = None
    baseline_launch: Launch | None = None
    version_seconds: float | None = None
    mode: str = "offscreen"
    notes: list[str] = field(default_factory=list)


def tree_size(path: Path) -> int:
    """Bytes of ``path`` as ``du -sb`` counts them (apparent sizes, links once)."""
    du = shutil.which("du")
    if du is not None:
        result = subprocess.run([du, "-sb", str(path)], capture_output=True, text=True)
        if result.returncode == 0:
            return int(result.stdout.split()[0])
    seen: set[tuple[int, int]] = set()
    total = 0
    for entry in [path, *path.rglob("*")]:
        info = entry.lstat()
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total


def _first_marker(text: str, markers: Sequence[str]) -> str | None:
    return next((marker for marker in markers if marker in text), None)


def _stop(process: subprocess.Popen[bytes], name: str, timeout: float = 15.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise MeasureError(
                f"{name} (pid {process.pid}) ignored SIGTERM for {timeout:g} s"
            ) from None
    return int(process.returncode)


def launch_until(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    reached: Callable[[], str | None],
    timeout: float = 30.0,
) -> tuple[float, str, int]:
    """Start ``command``; return (seconds until ``reached()`` names a marker, marker, exit code).

    The process is stopped with SIGTERM once the marker is seen.  Raises
    :class:`MeasureError` if it exits first or ``timeout`` passes.
    """
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = started + timeout
            while True:
                marker = reached()
                if marker is not None:
                    elapsed = time.perf_counter() - started
                    break
                if time.perf_counter() > deadline:
                    raise MeasureError(f"{command[0]}: no tray marker within {timeout:g} s")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    # Doubles as the poll interval and notices an early exit.
                    code = process.wait(timeout=_POLL)
                    output.seek(0)
                    tail = output.read().decode(errors="replace")[-2000:]
                    raise MeasureError(f"{command[0]} exited with {code} first:\n{tail}")
        finally:
            code = _stop(process, " ".join(command))
    return elapsed, marker, code


def _log_reader(log_file: Path, markers: Sequence[str]) -> Callable[[], str | None]:
    def reached() -> str | None:
        try:
            return _first_marker(log_file.read_text(errors="replace"), markers)
        except FileNotFoundError:
            return None

    return reached


def _app_launch(program: Path, runs: int, env: Mapping[str, str], label: str) -> Launch:
    launch = Launch(program=label)
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="seller-notifier-measure-") as home:
            run_env = {**env, "SELLER_NOTIFIER_HOME": home}
            log_file = Path(home, "log", "seller-notifier.log")
            seconds, marker, code = launch_until(
                [str(program), "--demo"],
                env=run_env,
                reached=_log_reader(log_file, APP_TRAY_MARKERS),
            )
        launch.seconds.append(seconds)
        launch.markers.append(marker)
        launch.exit_codes.append(code)
    return launch


def _baseline_launch(program: Path, runs: int, env: Mapping[str, str]) -> Launch:
    launch = Launch(program=str(program))
    for _ in range(runs):
        with tempfile.NamedTemporaryFile(prefix="minimal-tray-", suffix=".out") as out:
            seconds, marker, code = _launch_with_stdout(program, env, Path(out.name))
        launch.seconds.append(seconds)
        launch.markers.append(marker)
        launch.exit_codes.append(code)
    return launch


def _launch_with_stdout(program: Path, env: Mapping[str, str], out: Path) -> tuple[float, str, int]:
    # The marker is on stdout: send it to a file the poller reads.
    wrapper = ["/bin/sh", "-c", f'exec "$0" > "{out}"', str(program)]
    return launch_until(wrapper, env=env, reached=_log_reader(out, BASELINE_TRAY_MARKERS))


def _desktop_module() -> ModuleType:
    path = ROOT / "tests" / "e2e" / "desktop_session.py"
    spec = importlib.util.spec_from_file_location("desktop_session", path)
    if spec is None or spec.loader is None:
        raise MeasureError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["desktop_session"] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _environment(desktop: bool) -> Iterator[tuple[dict[str, str], Any]]:
    """The environment launches run in, and the desktop session (or None)."""
    if not desktop:
        env = dict(os.environ)
        env["QT_QPA_PLATFORM"] = "offscreen"
        yield env, None
        return
    module = _desktop_module()
    with module.DesktopSession(
        tray=True, status_notifier=False, sound=False, notification_daemon=True
    ) as session:
        yield session.env, session


def _tray_window_reader(session: Any, before: set[int]) -> Callable[[], str | None]:
    (panel,) = session.window_ids("panel")

    def reached() -> str | None:
        now = set(session.window_ids("", under=panel))
        return "icon window in the tray" if now - before else None

    return reached


def _desktop_launches(
    session: Any, program: Path, args: Sequence[str], runs: int, label: str, with_home: bool
) -> Launch:
    launch = Launch(program=label)
    (panel,) = session.window_ids("panel")
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="seller-notifier-measure-") as home:
            env = session.env
            if with_home:
                env["SELLER_NOTIFIER_HOME"] = home
            before = set(session.window_ids("", under=panel))
            seconds, marker, code = launch_until(
                [str(program), *args], env=env, reached=_tray_window_reader(session, before)
            )
        launch.seconds.append(seconds)
        launch.markers.append(marker)
        launch.exit_codes.append(code)
    return launch


def _version_seconds(program: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(program), "--version"], capture_output=True, check=True, timeout=30)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(
    *,
    bundle: Path,
    deb: Path | None,
    baseline: Path | None,
    program: Path,
    runs: int = 5,
    desktop: bool = False,
) -> Report:
    """Collect the figures; launches run ``program`` (the app) and the baseline."""
    report = Report(mode="desktop (Xvfb + trayer)" if desktop else "offscreen")
    if bundle.is_dir():
        report.bundle_bytes = tree_size(bundle)
    if deb is not None and deb.is_file():
        report.deb_bytes = deb.stat().st_size
    baseline_program = baseline / "minimal-tray" if baseline is not None else None
    if baseline is not None and baseline.is_dir():
        report.baseline_bytes = tree_size(baseline)
    report.version_seconds = _version_seconds(program, runs)
    with _environment(desktop) as (env, session):
        if session is None:
            report.launch = _app_launch(program, runs, env, str(program))
            if baseline_program is not None and baseline_program.exists():
                report.baseline_launch = _baseline_launch(baseline_program, runs, env)
        else:
            report.launch = _desktop_launches(
                session, program, ["--demo"], runs, str(program), with_home=True
            )
            if baseline_program is not None and baseline_program.exists():
                report.baseline_launch = _desktop_launches(
                    session, baseline_program, [], runs, str(baseline_program), with_home=False
                )
    if report.launch and "tray icon shown" not in report.launch.markers and not desktop:
        report.notes.append(
            "offscreen has no tray: the app's launch ends at its 'no system tray' log"
            " line, logged where it would show the icon"
        )
    return report


def _megabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


def format_report(report: Report) -> str:
    """The report as the lines printed on stdout."""
    lines = [f"mode: {report.mode}"]

    def verdict(name: str, value: float | None) -> str:
        if value is None:
            return ""
        limit, _unit = BUDGETS[name]
        return "  (budget ok)" if value <= limit else "  (OVER BUDGET)"

    lines.append(
        f"bundle (du -sb):  {_megabytes(report.bundle_bytes)}"
        f"{verdict('bundle_bytes', report.bundle_bytes)}   "
        f"baseline: {_megabytes(report.baseline_bytes)}"
    )
    lines.append(
        f".deb:             {_megabytes(report.deb_bytes)}{verdict('deb_bytes', report.deb_bytes)}"
    )
    if report.launch is not None:
        runs = ", ".join(f"{s:.3f}" for s in report.launch.seconds)
        lines.append(
            f"launch to tray:   {report.launch.median:.3f} s median"
            f"{verdict('launch_seconds', report.launch.median)}   runs: {runs}"
            f"   marker: {report.launch.markers[0]!r}; exit codes {report.launch.exit_codes}"
        )
    if report.baseline_launch is not None:
        runs = ", ".join(f"{s:.3f}" for s in report.baseline_launch.seconds)
        lines.append(
            f"baseline launch:  {report.baseline_launch.median:.3f} s median   runs: {runs}"
        )
    if report.version_seconds is not None:
        lines.append(f"--version:        {report.version_seconds:.3f} s median")
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def _default_program() -> Path:
    installed = Path("/usr/bin/seller-notifier")
    return (
        installed if installed.exists() else ROOT / "dist" / "seller-notifier" / "seller-notifier"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m packaging_tools.measure",
        description="Size and start-up figures of the Linux bundle, against the budgets.",
    )
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "seller-notifier")
    parser.add_argument("--deb", type=Path, default=None, help="default: dist/*.deb")
    parser.add_argument(
        "--baseline", type=Path, default=ROOT / "dist" / "baseline" / "minimal-tray"
    )
    parser.add_argument(
        "--program",
        type=Path,
        default=None,
        help="the app to launch (default: /usr/bin/seller-notifier, else the bundle)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--desktop", action="store_true", help="launch under Xvfb with a tray")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    deb = args.deb
    if deb is None:
        found = sorted((ROOT / "dist").glob("seller-notifier_*.deb"))
        deb = found[-1] if found else None
    program = args.program or _default_program()
    try:
        report = measure(
            bundle=args.bundle,
            deb=deb,
            baseline=args.baseline,
            program=program,
            runs=args.runs,
            desktop=args.desktop,
        )
    except (MeasureError, OSError, subprocess.SubprocessError) as exc:
        print(f"packaging_tools.measure: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
