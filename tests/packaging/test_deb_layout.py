"""The .deb's tree and control file, built around a stand-in bundle (fast, no PyInstaller)."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from packaging_tools import deb

ROOT = Path(__file__).resolve().parent.parent.parent
RESOURCES = ROOT / "resources"


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "dist" / "seller-notifier"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    executable = bundle / "seller-notifier"
    executable.write_text("#!/bin/sh\necho seller-notifier 0.0.0\n")
    executable.chmod(0o700)  # a tight umask must not leak into the package
    (bundle / "_internal" / "libdemo.so").write_bytes(b"\0" * 4096)
    (bundle / "_internal" / "libdemo.so").chmod(0o600)
    return bundle


@pytest.fixture
def staged(fake_bundle: Path, tmp_path: Path) -> tuple[Path, deb.DebSpec]:
    png = tmp_path / "icon.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    root = tmp_path / "deb-root"
    spec = deb.stage(
        fake_bundle,
        root,
        spec=deb.DebSpec("1.2.3~rc1", "amd64", ("libc6", "libxcb1")),
        desktop_file=RESOURCES / "seller-notifier.desktop",
        svg_icon=RESOURCES / "icons" / "seller-notifier.svg",
        png_icon=png,
    )
    return root, spec


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_tree_puts_each_file_where_debian_expects_it(
    staged: tuple[Path, deb.DebSpec],
) -> None:
    root, _ = staged
    assert (root / "opt/seller-notifier/seller-notifier").is_file()
    assert (root / "opt/seller-notifier/_internal/libdemo.so").is_file()
    launcher = root / "usr/bin/seller-notifier"
    assert launcher.is_symlink()
    assert str(launcher.readlink()) == "/opt/seller-notifier/seller-notifier"
    assert (root / "usr/share/applications/seller-notifier.desktop").read_bytes() == (
        RESOURCES / "seller-notifier.desktop"
    ).read_bytes()
    assert (root / "usr/share/icons/hicolor/scalable/apps/seller-notifier.svg").is_file()
    assert (root / "usr/share/icons/hicolor/256x256/apps/seller-notifier.png").is_file()
    assert "License: MIT" in (root / "usr/share/doc/seller-notifier/copyright").read_text()


def test_modes_are_normalized(staged: tuple[Path, deb.DebSpec]) -> None:
    root, _ = staged
    assert _mode(root / "opt/seller-notifier/seller-notifier") == 0o755
    assert _mode(root / "opt/seller-notifier/_internal/libdemo.so") == 0o644
    assert _mode(root / "opt/seller-notifier/_internal") == 0o755
    assert _mode(root / "DEBIAN/postrm") == 0o755


def test_control_file_names_version_architecture_depends_and_size(
    staged: tuple[Path, deb.DebSpec],
) -> None:
    root, spec = staged
    control = (root / "DEBIAN/control").read_text()
    fields = dict(line.split(": ", 1) for line in control.splitlines() if not line.startswith(" "))
    assert fields["Package"] == "seller-notifier"
    assert fields["Version"] == "1.2.3~rc1"
    assert fields["Architecture"] == "amd64"
    assert fields["Depends"] == "libc6, libxcb1"
    assert int(fields["Installed-Size"]) == spec.installed_size_kib >= 5  # KiB
    assert control.endswith("\n")
    # Every continuation line of the description starts with a space.
    description = control.split("Description: ", 1)[1].splitlines()[1:]
    assert description and all(line.startswith(" ") for line in description)


def test_postrm_is_valid_shell_and_removes_nothing_of_the_user(
    staged: tuple[Path, deb.DebSpec],
) -> None:
    root, _ = staged
    script = root / "DEBIAN/postrm"
    subprocess.run(["sh", "-n", str(script)], check=True)
    commands = [
        line.strip() for line in script.read_text().splitlines() if not line.strip().startswith("#")
    ]
    assert not [line for line in commands if line.startswith(("rm ", "find ", "rmdir "))]
    result = subprocess.run(["sh", str(script), "purge"], capture_output=True, text=True)
    assert result.returncode == 0 and "~/.config" in result.stdout


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", "0.1.0"),
        ("1.0.0rc1", "1.0.0~rc1"),
        ("2.1.0.dev3", "2.1.0~dev3"),
        ("1.0b2", "1.0~b2"),
    ],
)
def test_pre_releases_sort_before_their_release(version: str, expected: str) -> None:
    assert deb.debian_version(version) == expected


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_dpkg_deb_builds_a_package_owned_by_root(
    staged: tuple[Path, deb.DebSpec], tmp_path: Path
) -> None:
    root, _ = staged
    output = deb.build_deb(root, tmp_path / "out" / "x.deb", compression="gzip")
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(output)], capture_output=True, text=True, check=True
    ).stdout
    assert "./opt/seller-notifier/seller-notifier" in listing
    assert "./usr/bin/seller-notifier -> /opt/seller-notifier/seller-notifier" in listing
    owners = {line.split()[1] for line in listing.splitlines()}
    assert owners == {"root/root"}
    version = subprocess.run(
        ["dpkg-deb", "--field", str(output), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version == "1.2.3~rc1"
