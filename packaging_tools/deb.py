"""Lay out and build the .deb around the PyInstaller one-folder bundle.

Installed layout::

    /opt/seller-notifier/                       the bundle (executable + _internal/)
    /usr/bin/seller-notifier                    -> /opt/seller-notifier/seller-notifier
    /usr/share/applications/seller-notifier.desktop
    /usr/share/icons/hicolor/scalable/apps/seller-notifier.svg
    /usr/share/icons/hicolor/256x256/apps/seller-notifier.png
    /usr/share/doc/seller-notifier/copyright

The menu and icon caches are refreshed by the dpkg triggers of
desktop-file-utils and hicolor-icon-theme, so the package needs no postinst.
Its postrm removes nothing: a seller's settings, event history and keyring
entries stay (see ``packaging/deb/postrm``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKAGE",
    "DebSpec",
    "build_deb",
    "control_text",
    "deb_file_name",
    "debian_version",
    "dpkg_architecture",
    "stage",
]

PACKAGE = "seller-notifier"
INSTALL_DIR = Path("opt", PACKAGE)
MAINTAINER = "Seller Notifier developers <packaging@sellernotifier.invalid>"
SUMMARY = "Real-time order, payment and review notifications for marketplace sellers"
DESCRIPTION = """\
Seller Notifier sits in the system tray and tells an online-marketplace seller
the moment something happens in the shop: new orders, order status changes,
payments, reviews and seller-tier upgrades, with a sound and a notification.
It connects to a Seller Notifier gateway; `seller-notifier --demo` runs an
embedded demo gateway so the app can be tried without any account."""

#: Suggested, not required: GNOME shows tray icons only with this extension.
SUGGESTS = ("gnome-shell-extension-appindicator",)

_MAINTAINER_SCRIPTS = Path(__file__).resolve().parent.parent / "packaging" / "deb"


@dataclass(frozen=True)
class DebSpec:
    """What goes into DEBIAN/control besides the fixed fields."""

    version: str
    architecture: str
    depends: tuple[str, ...]
    installed_size_kib: int = 0


def dpkg_architecture() -> str:
    """This machine's Debian architecture (``amd64``, ``arm64``, ...)."""
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


_PRE_RELEASE = re.compile(r"^(?P<release>\d+(?:\.\d+)*)\.?(?P<pre>(?:a|b|rc|dev)\d*)$")


def debian_version(version: str) -> str:
    """``app.__version__`` (PEP 440) as a Debian version that sorts the same way.

    Pre-releases get a ``~`` (``1.0.0rc1`` -> ``1.0.0~rc1``, which dpkg sorts
    before ``1.0.0``); final releases are unchanged.
    """
    match = _PRE_RELEASE.match(version)
    if match is None:
        return version
    return f"{match.group('release')}~{match.group('pre')}"


def deb_file_name(version: str, architecture: str) -> str:
    """``seller-notifier_<version>_<arch>.deb`` (Debian's naming; ``-`` in a version stays)."""
    return f"{PACKAGE}_{version}_{architecture}.deb"


def control_text(spec: DebSpec) -> str:
    """The DEBIAN/control file for ``spec``."""
    long_description = "\n".join(
        " " + line if line.strip() else " ." for line in DESCRIPTION.splitlines()
    )
    fields = [
        f"Package: {PACKAGE}",
        f"Version: {spec.version}",
        f"Architecture: {spec.architecture}",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {spec.installed_size_kib}",
        f"Depends: {', '.join(spec.depends)}",
        f"Suggests: {', '.join(SUGGESTS)}",
        "Section: net",
        "Priority: optional",
        f"Description: {SUMMARY}",
    ]
    return "\n".join(fields) + "\n" + long_description + "\n"


def _copyright() -> str:
    return textwrap.dedent(
        """\
        Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
        Upstream-Name: seller-notifier
        Comment: The bundle under /opt/seller-notifier also contains CPython (PSF
         License), Qt 6 and PySide6 (LGPL-3.0), ICU (Unicode License) and the Python
         packages listed in /opt/seller-notifier/_internal/*.dist-info, each under
         its own license.

        Files: *
        Copyright: Seller Notifier developers
        License: MIT
        """
    )


def _normalize_modes(root: Path) -> None:
    """0755 for directories and executables, 0644 for everything else (umask-proof)."""
    for directory, subdirs, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            path = Path(directory, name)
            if path.is_symlink():
                continue
            executable = path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)
        del subdirs


def _tree_size_kib(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            total += 1024 if path.is_dir() else 0
            continue
        total += path.stat().st_size
    return -(-total // 1024)


def stage(
    bundle: Path,
    staging: Path,
    *,
    spec: DebSpec,
    desktop_file: Path,
    svg_icon: Path,
    png_icon: Path,
) -> DebSpec:
    """Fill ``staging`` (emptied first) with the package tree; returns the final spec.

    The returned spec has ``installed_size_kib`` computed from the tree.
    """
    if staging.exists():
        shutil.rmtree(staging)
    opt = staging / INSTALL_DIR
    shutil.copytree(bundle, opt, symlinks=True)
    usr = staging / "usr"
    (usr / "bin").mkdir(parents=True)
    # A symlink: PyInstaller's bootloader finds _internal/ through /proc/self/exe.
    (usr / "bin" / PACKAGE).symlink_to(Path("/", INSTALL_DIR, PACKAGE))
    share = usr / "share"
    for source, target in (
        (desktop_file, share / "applications" / f"{PACKAGE}.desktop"),
        (svg_icon, share / "icons" / "hicolor" / "scalable" / "apps" / f"{PACKAGE}.svg"),
        (png_icon, share / "icons" / "hicolor" / "256x256" / "apps" / f"{PACKAGE}.png"),
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(_copyright(), encoding="utf-8")
    _normalize_modes(staging)

    final = DebSpec(
        version=spec.version,
        architecture=spec.architecture,
        depends=spec.depends,
        installed_size_kib=_tree_size_kib(staging),
    )
    debian = staging / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(control_text(final), encoding="utf-8")
    for script in ("postrm",):
        target = debian / script
        shutil.copyfile(_MAINTAINER_SCRIPTS / script, target)
        target.chmod(0o755)
    os.chmod(debian, 0o755)
    (debian / "control").chmod(0o644)
    return final


#: dpkg-deb compression level per method: zstd's default (3) makes a .deb ~40 %
#: bigger than xz; at 19 it is 7 % bigger and still faster (2-3x, measured).
_LEVELS = {"zstd": 19}


def build_deb(staging: Path, output: Path, *, compression: str = "xz") -> Path:
    """Run ``dpkg-deb --root-owner-group -Z<compression> --build``; returns ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    level = [f"-z{_LEVELS[compression]}"] if compression in _LEVELS else []
    subprocess.run(
        [
            "dpkg-deb",
            "--root-owner-group",
            f"-Z{compression}",
            *level,
            "--build",
            str(staging),
            str(output),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return output
