"""The system libraries a Linux bundle loads, and the Debian packages that provide them.

:mod:`packaging_tools.prune` leaves the desktop stack (X11/xcb, GL, glib,
fontconfig, D-Bus, Wayland, libstdc++) out of the bundle, so the .deb must
depend on it.  :func:`missing_sonames` lists what the bundle's ELF files need
and do not carry; :func:`depends` turns that into ``Depends`` clauses through
:data:`SYSTEM_LIBRARIES`, and fails on a library the table does not know (a new
Qt module or plugin brought a new system library: add it there).
:func:`host_packages` asks the build host's dpkg which package really provides
each library, to catch a wrong entry in the table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from packaging_tools import elf

__all__ = [
    "SYSTEM_LIBRARIES",
    "UnknownLibraries",
    "depends",
    "host_packages",
    "missing_sonames",
]

_GLIB = "libglib2.0-0 | libglib2.0-0t64"  # renamed in Debian 13 / Ubuntu 24.04

#: soname -> Debian ``Depends`` clause (Debian 12 names; t64 alternatives where
#: later releases renamed the package).
SYSTEM_LIBRARIES: dict[str, str] = {
    "ld-linux-x86-64.so.2": "libc6",
    "ld-linux-aarch64.so.1": "libc6",
    "libc.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libm.so.6": "libc6",
    "libpthread.so.0": "libc6",
    "libresolv.so.2": "libc6",
    "librt.so.1": "libc6",
    "libutil.so.1": "libc6",
    "libgcc_s.so.1": "libgcc-s1",
    "libstdc++.so.6": "libstdc++6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXext.so.6": "libxext6",
    "libXrandr.so.2": "libxrandr2",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": _GLIB,
    "libgobject-2.0.so.0": _GLIB,
    "libgio-2.0.so.0": _GLIB,
    "libgthread-2.0.so.0": _GLIB,
    "libgmodule-2.0.so.0": _GLIB,
    "libdbus-1.so.3": "libdbus-1-3",
    "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libzstd.so.1": "libzstd1",
    "libpulse.so.0": "libpulse0",
    # Needed by CPython's modules and by the desktop stack alike.
    "libz.so.1": "zlib1g",
    "libffi.so.8": "libffi8",
    "liblzma.so.5": "liblzma5",
    "libbz2.so.1.0": "libbz2-1.0",
    "libuuid.so.1": "libuuid1",
    "libexpat.so.1": "libexpat1",
    "libcrypt.so.1": "libcrypt1",
    "libtinfo.so.6": "libtinfo6",
    "libncursesw.so.6": "libncursesw6",
}


class UnknownLibraries(Exception):
    """The bundle needs system libraries that :data:`SYSTEM_LIBRARIES` does not map."""

    def __init__(self, unknown: dict[str, set[str]]) -> None:
        self.unknown = unknown
        lines = [
            f"  {name} (needed by {sorted(users)[0]})" for name, users in sorted(unknown.items())
        ]
        super().__init__(
            "system libraries without a Debian package in "
            "packaging_tools/linux_deps.py SYSTEM_LIBRARIES:\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class HostPackage:
    """Where the build host finds a soname, and the package dpkg says owns it."""

    soname: str
    path: str | None
    package: str | None


def missing_sonames(bundle: Path) -> dict[str, set[str]]:
    """Sonames the bundle's ELF files need but do not carry -> files that need them.

    A library is "carried" when a file of that name exists anywhere in the
    bundle (PyInstaller's loader puts the bundle on the library path, and Qt's
    libraries find each other through ``$ORIGIN``).
    """
    carried = {path.name for path in bundle.rglob("*")}
    needed: dict[str, set[str]] = defaultdict(set)
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not elf.is_elf(path):
            continue
        try:
            names = elf.needed_libraries(path)
        except elf.ElfError:
            continue  # 32-bit or foreign-endian helpers: nothing we ship loads them
        for name in names:
            if name not in carried:
                needed[name].add(str(path.relative_to(bundle)))
    return dict(needed)


def depends(sonames: dict[str, set[str]]) -> list[str]:
    """Sorted, de-duplicated ``Depends`` clauses for ``sonames`` (always with libc6).

    Raises :class:`UnknownLibraries` for sonames missing from the table.
    """
    unknown = {name: users for name, users in sonames.items() if name not in SYSTEM_LIBRARIES}
    if unknown:
        raise UnknownLibraries(unknown)
    clauses = {SYSTEM_LIBRARIES[name] for name in sonames} | {"libc6"}
    return sorted(clauses)


def _ldconfig_paths() -> dict[str, str]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        listing = subprocess.run(
            [ldconfig, "-p"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    machine = os.uname().machine
    marker = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(machine, machine)
    paths: dict[str, str] = {}
    for line in listing.splitlines()[1:]:
        name, _, rest = line.strip().partition(" ")
        if "=>" in rest and marker in rest:
            paths.setdefault(name, rest.split("=>", 1)[1].strip())
    return paths


def _spellings(path: str) -> list[str]:
    """``path``, its real path, and both under merged /usr (dpkg may record either)."""
    found = [path, os.path.realpath(path)]
    found += [p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p for p in found]
    return list(dict.fromkeys(found))


def _dpkg_owners(paths: list[str]) -> dict[str, str]:
    """path -> owning package, for the paths dpkg knows (one dpkg call)."""
    if not paths:
        return {}
    # Exit status 1 just means some paths are unknown: the rest is still listed.
    listing = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True).stdout
    owners: dict[str, str] = {}
    for line in listing.splitlines():
        package, separator, path = line.partition(": ")
        if separator and "," not in package:
            owners[path.strip()] = package.split(":", 1)[0].strip()
    return owners


def host_packages(sonames: list[str]) -> list[HostPackage]:
    """Ask this machine (ldconfig, dpkg) where each soname comes from.

    ``path`` is None when the library is not installed here, ``package`` None
    when dpkg does not know the file (or there is no dpkg).
    """
    paths = _ldconfig_paths()
    have_dpkg = shutil.which("dpkg") is not None
    spellings = {name: _spellings(paths[name]) for name in sonames if name in paths}
    owners = _dpkg_owners([p for group in spellings.values() for p in group]) if have_dpkg else {}
    found: list[HostPackage] = []
    for name in sorted(sonames):
        package = next((owners[p] for p in spellings.get(name, []) if p in owners), None)
        found.append(HostPackage(name, paths.get(name), package))
    return found
