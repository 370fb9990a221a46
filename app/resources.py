"""Locate Seller Notifier's bundled resources (icons, sounds, desktop entry).

The files live in the ``resources/`` folder at the repository root (next to the
``app/`` package).  This module finds that folder in every way the application
is run, without importing Qt:

1. ``$SELLER_NOTIFIER_RESOURCES`` -- explicit override for tests and packagers;
   used as-is.
2. A frozen PyInstaller bundle (``sys.frozen`` and ``sys._MEIPASS`` set):
   ``<_MEIPASS>/resources`` (the spec file adds ``("resources", "resources")``
   to ``datas``).
3. A source checkout or editable install: ``<repo>/resources``.
4. A regular (non-editable) ``pip install``: the wheel installs the folder as
   data files into ``<prefix>/share/seller-notifier/resources``; every likely
   prefix is probed (the running environment, the user scheme, the base
   interpreter, ``/usr/local`` and ``/usr``).

If nothing is found, :func:`resource_root` returns the source-checkout
location so that :func:`resource_path` raises a :class:`ResourceMissing` that
names a meaningful path.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

__all__ = [
    "APP_ICON",
    "DESKTOP_FILE_NAME",
    "ENV_OVERRIDE",
    "EVENT_ICONS",
    "INSTALLED_SUBDIR",
    "SOUNDS",
    "TRAY_ICONS",
    "ResourceMissing",
    "desktop_entry_path",
    "icon_path",
    "resource_path",
    "resource_root",
    "sound_path",
]

#: Environment variable that, when set to a directory, replaces the search.
ENV_OVERRIDE = "SELLER_NOTIFIER_RESOURCES"

#: Where a non-editable ``pip install`` puts the folder, relative to a prefix.
INSTALLED_SUBDIR = Path("share", "seller-notifier", "resources")

#: File name of the application's .desktop entry (also used for autostart).
DESKTOP_FILE_NAME = "seller-notifier.desktop"

#: Icon names (without ``.svg``) shipped in ``resources/icons``.
APP_ICON = "seller-notifier"
TRAY_ICONS: tuple[str, ...] = (
    "tray-connected",
    "tray-connecting",
    "tray-offline",
    "tray-paused",
)
EVENT_ICONS: tuple[str, ...] = (
    "event-new-order",
    "event-order-status",
    "event-payment",
    "event-tier",
    "event-review",
    "event-analytics",
    "event-generic",
)

#: Sound names (without ``.wav``) shipped in ``resources/sounds``.
SOUNDS: tuple[str, ...] = ("new-order", "payment", "review", "tier-upgrade")

#: ``resources/`` next to the ``app/`` package (source checkout / editable install).
_SOURCE_ROOT = Path(__file__).resolve().parent.parent / "resources"

#: A file every complete resource folder contains; used to recognise candidates
#: so that an unrelated ``site-packages/resources`` directory is never picked.
_MARKER = Path("icons", f"{APP_ICON}.svg")


class ResourceMissing(FileNotFoundError):
    """A requested resource file does not exist.

    ``path`` (and the standard ``filename`` attribute) hold the missing path.
    """

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self.root = root
        where = f" (resource root: {root})" if root is not None else ""
        self.message = (
            f"Seller Notifier resource not found: {path}{where}; "
            f"set {ENV_OVERRIDE} to point at a resources directory"
        )
        super().__init__(self.message)
        self.filename = str(path)

    def __str__(self) -> str:
        return self.message


def _frozen_root() -> Path | None:
    if not getattr(sys, "frozen", False):
        return None
    meipass: object = getattr(sys, "_MEIPASS", None)
    if isinstance(meipass, str | os.PathLike) and str(meipass):
        return Path(meipass) / "resources"
    # Frozen by something other than PyInstaller: look next to the executable.
    return Path(sys.executable).resolve().parent / "resources"


def _installed_prefixes() -> list[Path]:
    """Prefixes under which ``share/seller-notifier/resources`` may have been installed."""
    prefixes: list[str] = [sys.prefix]
    try:
        prefixes.append(sysconfig.get_path("data"))
    except KeyError:  # pragma: no cover - exotic sysconfig setups
        pass
    try:
        user_scheme = sysconfig.get_preferred_scheme("user")
        prefixes.append(sysconfig.get_path("data", user_scheme))
    except KeyError:  # pragma: no cover - platforms without a user scheme
        pass
    prefixes.append(sys.base_prefix)
    if os.name == "posix":
        prefixes += ["/usr/local", "/usr"]
    unique: list[Path] = []
    for prefix in prefixes:
        path = Path(prefix)
        if prefix and path not in unique:
            unique.append(path)
    return unique


def _looks_complete(root: Path) -> bool:
    return (root / _MARKER).is_file()


def resource_root() -> Path:
    """Return the directory that holds ``icons/``, ``sounds/`` and the .desktop file.

    The result is not cached (it costs a few ``stat`` calls), so changes to
    the environment variable or ``sys.frozen`` take effect immediately.
    """
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return Path(override).expanduser()
    frozen = _frozen_root()
    if frozen is not None:
        return frozen
    if _looks_complete(_SOURCE_ROOT):
        return _SOURCE_ROOT
    for prefix in _installed_prefixes():
        candidate = prefix / INSTALLED_SUBDIR
        if _looks_complete(candidate):
            return candidate
    return _SOURCE_ROOT


def resource_path(*parts: str) -> Path:
    """Return ``resource_root()`` joined with ``parts``; raise if it does not exist.

    :raises ValueError: if no part is given, or the parts escape the root.
    :raises ResourceMissing: if the file or directory does not exist.
    """
    if not parts:
        raise ValueError("resource_path() needs at least one path component")
    for part in parts:
        if not part or Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"invalid resource path component: {part!r}")
    root = resource_root()
    path = root.joinpath(*parts)
    if not path.exists():
        raise ResourceMissing(path, root)
    return path


def _with_suffix(name: str, suffix: str) -> str:
    return name if name.endswith(suffix) else name + suffix


def icon_path(name: str) -> Path:
    """Path of ``icons/<name>.svg`` (``name`` may already end in ``.svg``)."""
    return resource_path("icons", _with_suffix(name, ".svg"))


def sound_path(name: str) -> Path:
    """Path of ``sounds/<name>.wav`` (``name`` may already end in ``.wav``)."""
    return resource_path("sounds", _with_suffix(name, ".wav"))


def desktop_entry_path() -> Path:
    """Path of the application's ``seller-notifier.desktop`` entry."""
    return resource_path(DESKTOP_FILE_NAME)
