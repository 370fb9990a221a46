"""The real .deb: build it, install it with apt, run the installed app, remove it.

Marked ``package``: skipped unless ``SELLER_NOTIFIER_PACKAGE_TEST=1``, and then
it needs root on a Debian/Ubuntu machine with network access to the package
mirror (apt pulls the Depends).  The build is reused when ``dist/`` is newer
than every source file; otherwise ``python -m packaging_tools.build`` runs
(about two minutes, most of it xz).
"""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import __version__
from app.config.paths import app_paths
from packaging_tools import deb, measure

pytestmark = [pytest.mark.package, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parent.parent.parent
DIST = ROOT / "dist"
BUNDLE = DIST / "seller-notifier"
SOURCES = ("app", "resources", "packaging", "packaging_tools", "pyproject.toml")

INSTALLED_BIN = Path("/usr/bin/seller-notifier")
INSTALL_DIR = Path("/opt/seller-notifier")
DESKTOP_ENTRY = Path("/usr/share/applications/seller-notifier.desktop")
SVG_ICON = Path("/usr/share/icons/hicolor/scalable/apps/seller-notifier.svg")
PNG_ICON = Path("/usr/share/icons/hicolor/256x256/apps/seller-notifier.png")

#: The libraries Qt's xcb platform plugin loads from the system, at the least.
XCB_DEPENDS = (
    "libc6",
    "libgl1",
    "libegl1",
    "libxcb1",
    "libxkbcommon-x11-0",
    "libxcb-cursor0",
    "libfontconfig1",
    "libdbus-1-3",
)

APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


def _run(args: list[str], *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=APT_ENV, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="module")
def deb_file() -> Path:
    """The .deb for the current sources (built unless dist/ is up to date)."""
    name = deb.deb_file_name(deb.debian_version(__version__), deb.dpkg_architecture())
    package = DIST / name
    executable = BUNDLE / "seller-notifier"
    newest = _newest_source()
    fresh = (
        package.is_file()
        and executable.is_file()
        and min(package.stat().st_mtime, executable.stat().st_mtime) > newest
    )
    if not fresh:
        _run([sys.executable, "-m", "packaging_tools.build"], timeout=1200)
    assert package.is_file(), f"the build wrote no {package}"
    return package


class Installer:
    """Installs the .deb with apt (idempotently) and removes it."""

    def __init__(self, package: Path) -> None:
        self.package = package
        self.done = False

    def installed(self) -> bool:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", deb.PACKAGE],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() == "install ok installed"

    def install(self) -> None:
        if self.done and self.installed():
            return
        # --reinstall: a rebuilt package keeps its version number.  An absolute
        # path tells apt it is a file, not a package name.
        _run(["apt-get", "install", "-y", "--reinstall", str(self.package.resolve())])
        self.done = True

    def remove(self) -> None:
        if self.installed():
            _run(["apt-get", "remove", "-y", deb.PACKAGE])
        self.done = False


@pytest.fixture(scope="module")
def installer(deb_file: Path) -> Iterator[Installer]:
    if os.geteuid() != 0:
        pytest.fail("the package test installs with apt-get: run it as root")
    if shutil.which("apt-get") is None:
        pytest.fail("the package test needs apt-get (Debian or Ubuntu)")
    installer = Installer(deb_file)
    yield installer
    installer.remove()


@pytest.fixture
def installed(installer: Installer) -> Installer:
    installer.install()
    return installer


def test_control_fields(deb_file: Path) -> None:
    fields = _run(
        ["dpkg-deb", "-f", str(deb_file), "Package", "Version", "Architecture", "Depends"]
    ).stdout
    parsed = dict(line.split(": ", 1) for line in fields.strip().splitlines())
    assert parsed["Package"] == "seller-notifier"
    assert parsed["Version"] == deb.debian_version(__version__)
    assert parsed["Architecture"] == deb.dpkg_architecture()
    depends = {clause.strip() for clause in parsed["Depends"].split(",")}
    missing = [name for name in XCB_DEPENDS if name not in depends]
    assert not missing, f"Depends lacks {missing}: {parsed['Depends']}"


def test_installed_command_prints_the_version(installed: Installer) -> None:
    assert INSTALLED_BIN.is_symlink() or INSTALLED_BIN.is_file()
    result = _run([str(INSTALLED_BIN), "--version"], timeout=60)
    assert result.stdout.strip() == f"seller-notifier {__version__}"


def _event_count(db: Path) -> int:
    """Events in the app's client store (table ``events`` of app.store.events)."""
    if not db.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.OperationalError:
        return 0
    try:
        (count,) = connection.execute("SELECT count(*) FROM events").fetchone()
    except sqlite3.OperationalError:
        return 0  # created but not yet migrated, or briefly locked
    finally:
        connection.close()
    return int(count)


def test_installed_demo_receives_events_and_stops_cleanly(
    installed: Installer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SELLER_NOTIFIER_HOME": str(home)}
    db = app_paths(home).client_db
    stdout_path, stderr_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen([str(INSTALLED_BIN), "--demo"], env=env, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while _event_count(db) < 1:
                if time.monotonic() > deadline:
                    pytest.fail(f"no event reached {db} within 60 s")
                try:
                    # Doubles as the poll interval and notices an early exit.
                    code = process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
                pytest.fail(
                    f"the installed app exited with {code} before receiving an event:\n"
                    + stderr_path.read_text(errors="replace")
                )
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    stderr = stderr_path.read_text(errors="replace")
    assert code == 0, f"exit code {code} after SIGTERM:\n{stderr}"
    assert "Traceback" not in stderr, stderr


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_desktop_entry_and_icons_are_installed(
    installed: Installer, figures: dict[str, str]
) -> None:
    assert DESKTOP_ENTRY.read_text() == (ROOT / "resources" / DESKTOP_ENTRY.name).read_text()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment, method-assign]  # keys are case-sensitive
    entry.read(DESKTOP_ENTRY)
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    command = section["Exec"].split()[0]
    assert shutil.which(command) == str(INSTALLED_BIN)
    assert section["Icon"] == "seller-notifier"
    assert SVG_ICON.read_bytes() == (ROOT / "resources" / "icons" / SVG_ICON.name).read_bytes()
    assert _png_size(PNG_ICON) == (256, 256)
    validate = shutil.which("desktop-file-validate")
    if validate is not None:
        result = subprocess.run([validate, str(DESKTOP_ENTRY)], capture_output=True, text=True)
        output = result.stdout + result.stderr
        errors = [line for line in output.splitlines() if ": error: " in line]
        assert result.returncode == 0 and not errors, output
        if output.strip():
            figures["desktop-file-validate"] = output.strip().replace("\n", " | ")


def test_sizes_and_launch_time_are_reported(
    installed: Installer, deb_file: Path, figures: dict[str, str]
) -> None:
    bundle = measure.tree_size(BUNDLE)
    installed_size = measure.tree_size(INSTALL_DIR)
    figures["bundle (du -sb dist/seller-notifier)"] = (
        f"{bundle / 1e6:.1f} MB (budget {measure.BUDGETS['bundle_bytes'][0] / 1e6:.0f} MB)"
    )
    figures["installed /opt/seller-notifier"] = f"{installed_size / 1e6:.1f} MB"
    figures[".deb"] = (
        f"{deb_file.stat().st_size / 1e6:.1f} MB "
        f"(budget {measure.BUDGETS['deb_bytes'][0] / 1e6:.0f} MB)"
    )
    report = measure.measure(bundle=BUNDLE, deb=None, baseline=None, program=INSTALLED_BIN, runs=5)
    assert report.launch is not None
    figures["launch to tray marker (offscreen, median of 5)"] = (
        f"{report.launch.median:.3f} s (budget {measure.BUDGETS['launch_seconds'][0]:.1f} s)"
    )
    assert report.launch.exit_codes == [0] * 5
    assert bundle > 0 and installed_size > 0


def test_remove_leaves_no_program_files(installed: Installer) -> None:
    installed.remove()
    assert not INSTALL_DIR.exists()
    assert not INSTALLED_BIN.exists() and not INSTALLED_BIN.is_symlink()
    assert not DESKTOP_ENTRY.exists()
    assert not SVG_ICON.exists() and not PNG_ICON.exists()
