"""Which of the files PyInstaller collected go into the bundle.

PyInstaller's PySide6 hooks collect whole Qt *plugin* folders, and the plugins
drag in the heavy libraries (the PDF image plugin brings QtPdf, the virtual
keyboard brings Qml and Quick).  ``--exclude-module`` cannot stop that; filtering
the Analysis' ``binaries`` and ``datas`` can.  The specs call :func:`prune` on
both lists.

The rules, each giving the reason a file is dropped (see :func:`drop_reason`):

1. Qt modules of a family in :data:`DROPPED_QT_FAMILIES` (libraries, frameworks,
   DLLs and PySide6 extension modules alike), and the ``qml/`` tree.
2. PySide6 bindings the app does not load (``bindings``, from
   :func:`pyside_bindings_loaded`): the QtCharts hook adds ``QtOpenGL.abi3.so``
   (8.9 MB) that nothing imports.  The C++ libraries they wrap stay.
3. Qt plugins: folders in :data:`DROPPED_PLUGIN_DIRS` go; in folders listed in
   :data:`KEPT_PLUGINS` only the named plugins stay; other folders stay whole.
   FFmpeg's libraries go with the multimedia backend plugin that loads them.
4. Qt translations: only the ``qt_``, ``qtbase_`` and ``qtmultimedia_``
   catalogs of the languages the app itself is translated into
   (``languages``, from :func:`app_languages`).  An app that loads no
   translation of its own gets none of Qt's: they would only turn Qt's
   standard buttons into another language than the app's.
5. Linux only: libraries PyInstaller copied from the system library
   directories (X11, xcb, GL, glib, fontconfig, D-Bus, PulseAudio, libstdc++,
   zlib, libffi, ...).  They must match the user's X server, GPU driver and
   font configuration, so the .deb declares them in ``Depends`` instead
   (:mod:`packaging_tools.linux_deps` checks that it does).  Libraries only
   CPython uses (:data:`PYTHON_RUNTIME_LIBS`: OpenSSL, SQLite) stay.
6. Single files by name (:data:`_DROPPED_FILES`: Windows' 20 MB software
   OpenGL).

A family the app itself imports must never be dropped: :func:`check_protected`
raises :class:`PruneConflict` for that, and the specs call it with
:func:`qt_modules_imported_by` of the ``app`` package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

__all__ = [
    "DROPPED_PLUGIN_DIRS",
    "DROPPED_QT_FAMILIES",
    "EXCLUDED_MODULES",
    "KEPT_PLUGINS",
    "PYTHON_RUNTIME_LIBS",
    "PruneConflict",
    "TocEntry",
    "app_languages",
    "check_protected",
    "drop_reason",
    "prune",
    "pyside_bindings_loaded",
    "qt_modules_imported_by",
]

#: A PyInstaller TOC entry: (name in the bundle, source path, type code).
TocEntry = tuple[str, str, str]

#: Qt module families the app does not use.  A name matches when the part after
#: ``Qt``/``Qt6``/``libQt6`` starts with one of these (``QuickControls2`` is
#: ``Quick``; ``3DRender`` is ``3D``).
DROPPED_QT_FAMILIES: tuple[str, ...] = (
    "3D",
    "Bluetooth",
    "CanvasPainter",
    "DataVisualization",
    "Designer",
    "EglFS",
    "EglFs",
    "Graphs",
    "Help",
    "HttpServer",
    "Labs",
    "Location",
    "NetworkAuth",
    "Nfc",
    "Pdf",
    "Positioning",
    "PrintSupport",
    "Qml",
    "Quick",
    "RemoteObjects",
    "Scxml",
    "Sensors",
    "SerialBus",
    "SerialPort",
    "ShaderTools",
    "SpatialAudio",
    "Sql",
    "StateMachine",
    "Test",
    "TextToSpeech",
    "UiTools",
    "VirtualKeyboard",
    "WaylandCompositor",
    "WebChannel",
    "WebEngine",
    "WebSockets",
    "WebView",
)

#: Plugin folders dropped whole: input devices for eglfs/linuxfb, database
#: drivers, printing, positioning, QML tooling, 3D scene loaders, ...
DROPPED_PLUGIN_DIRS: frozenset[str] = frozenset(
    {
        "assetimporters",
        "canbus",
        "designer",
        "egldeviceintegrations",
        "generic",
        "geometryloaders",
        "geoservices",
        "position",
        "printsupport",
        "qmllint",
        "qmltooling",
        "renderers",
        "renderplugins",
        "sceneparsers",
        "scxmldatamodel",
        "sensors",
        "sqldrivers",
        "texttospeech",
        "vectorimageformats",
        "wayland-graphics-integration-server",
        "webview",
    }
)

#: In these plugin folders only the listed plugins stay.  Names are file stems
#: without ``lib`` and the leading ``q`` (``libqxcb.so`` -> ``xcb``,
#: ``qwindows.dll`` -> ``windows``).  The multimedia folder holds the FFmpeg
#: backend (FFmpeg libraries ~20 MB): QSoundEffect, the only multimedia class
#: the app uses, plays through the audio-device layer inside QtMultimedia and
#: works without any backend plugin (measured: status Ready, playingChanged
#: True then False on a PulseAudio null sink).
KEPT_PLUGINS: dict[str, frozenset[str]] = {
    # xcb (X11 and XWayland), wayland (native Wayland sessions), offscreen
    # (headless runs and tests), minimal (diagnostics, 30 kB); windows/cocoa
    # for the other installers.
    "platforms": frozenset(
        {"xcb", "wayland", "wayland-egl", "offscreen", "minimal", "windows", "cocoa"}
    ),
    # gtk3 would need the system's GTK stack; the portal theme follows the
    # desktop's dark/light preference on its own.
    "platformthemes": frozenset({"xdgdesktopportal"}),
    "imageformats": frozenset({"svg", "ico", "icns"}),
    "iconengines": frozenset({"svgicon"}),
    "platforminputcontexts": frozenset(
        {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"}
    ),
    "multimedia": frozenset(),
}

_KEPT_CATALOGS = ("qt", "qtbase", "qtmultimedia")

#: System libraries that stay in the bundle: only CPython uses them (OpenSSL
#: for ssl and hashlib, SQLite, mpdecimal), so a copy of the build host's
#: cannot clash with the desktop stack.  Libraries the desktop stack loads as
#: well (zlib, libffi, lzma, bz2, expat, uuid) come from the system instead: a
#: bundled older copy would shadow the system's (the bundle is first on the
#: library path) and break, e.g., a GPU driver built against a newer expat.
PYTHON_RUNTIME_LIBS: tuple[str, ...] = (
    "libcrypto.",
    "libmpdec.",
    "libsqlite3.",
    "libssl.",
)

_SYSTEM_LIB_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")

#: Python modules kept out of the analysis: test and type-checking tools that
#: plugins of our dependencies reach (pydantic.mypy, pydantic.v1's hypothesis
#: plugin), build tooling, optional accelerators with a pure fallback
#: (eth_utils falls back from cytoolz to toolz), the interactive console's
#: readline, pydoc (only ``help()`` reaches it), unittest (only bitarray's
#: own tests import it), distutils (cffi's build-time shim), and the East
#: Asian legacy codecs (Shift-JIS, GBK, Big5, EUC-KR,
#: ISO-2022: the app speaks UTF-8 JSON; decoding those raises LookupError).
EXCLUDED_MODULES: tuple[str, ...] = (
    "IPython",
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_multibytecodec",
    "_pytest",
    "ast_serialize",
    "cytoolz",
    "distutils",
    "hypothesis",
    "mypy",
    "mypy_extensions",
    "numpy",
    "pip",
    "pydoc",
    "pydoc_data",
    "pydantic.mypy",
    "pydantic.v1",
    "pytest",
    "pytestqt",
    "readline",
    "setuptools",
    "pkg_resources",
    "tkinter",
    "unittest",
    "_tkinter",
    "wheel",
)

#: Single files dropped by name (lower case) -> reason.
_DROPPED_FILES: dict[str, str] = {
    # Windows: Mesa llvmpipe, loaded only when desktop OpenGL is missing and
    # something renders with OpenGL; the app's widgets and charts do not.
    "opengl32sw.dll": "software OpenGL fallback (unused by widgets)",
}

#: FFmpeg's libraries (and Qt's stubs for its optional dependencies): only the
#: multimedia backend plugin loads them, and that plugin is not shipped.
_FFMPEG = re.compile(
    r"^(?:lib)?(?:(?:avcodec|avdevice|avfilter|avformat|avutil|postproc|swresample|swscale)"
    r"[.-]|Qt6FFmpegStub)"
)

_BINDING = re.compile(r"^(?P<name>Qt\w+)\.(?:abi3\.so|pyd|cpython-[\w-]+\.so)$")

_QT_MODULE = re.compile(r"^(?:lib)?Qt6?(?P<module>[0-9A-Z][A-Za-z0-9]*)")
_PYSIDE_QML = re.compile(r"^(?:lib)?pyside6qml", re.IGNORECASE)
_TRANSLATION = re.compile(r"^(?P<catalog>[a-z_]+?)_(?P<lang>[a-z]{2,3}(?:_[A-Z]{2})?)\.qm$")
_CATALOG_LANGUAGE = re.compile(r"_(?P<lang>[a-z]{2,3}(?:_[A-Z]{2})?)\.qm$")
_IMPORT = re.compile(r"PySide6\.(Qt\w+)|from\s+PySide6\s+import\s+\(?([\w\s,]+)\)?")


class PruneConflict(Exception):
    """The app imports a Qt module that the pruning rules would drop."""


def _parts(dest: str) -> tuple[str, ...]:
    return PureWindowsPath(dest).parts if "\\" in dest else PurePosixPath(dest).parts


def _qt_family(name: str) -> str | None:
    """The dropped family ``name`` (a path component) belongs to, if any."""
    if _PYSIDE_QML.match(name):
        return "Qml"
    match = _QT_MODULE.match(name)
    if match is None:
        return None
    module = match.group("module")
    for family in DROPPED_QT_FAMILIES:
        if module.startswith(family):
            return family
    return None


def _plugin_stem(file_name: str) -> str:
    stem = file_name.split(".", 1)[0]
    stem = stem.removeprefix("lib")
    return stem.removeprefix("q")


def drop_reason(
    dest: str,
    source: str,
    *,
    platform: str = sys.platform,
    bindings: frozenset[str] | None = None,
    languages: frozenset[str] = frozenset(),
) -> str | None:
    """Why ``dest`` (bundle path) copied from ``source`` is left out, or None to keep it.

    ``bindings``: the PySide6 modules (``QtCore``, ...) the app loads; other
    PySide6 extension modules are dropped.  None keeps them all.
    ``languages``: codes (``de``, ``pt_BR``) whose Qt catalogs are kept.
    """
    parts = _parts(dest)
    if not parts:
        return None
    if bindings is not None and len(parts) == 2 and parts[0] == "PySide6":
        binding = _BINDING.match(parts[1])
        if binding is not None and binding.group("name") not in bindings:
            return f"PySide6 binding {binding.group('name')} (the app does not load it)"
    if parts[-1].lower() in _DROPPED_FILES:
        return _DROPPED_FILES[parts[-1].lower()]
    if not KEPT_PLUGINS["multimedia"] and _FFMPEG.match(parts[-1]):
        return "FFmpeg (its multimedia backend plugin is not shipped)"
    for part in parts:
        family = _qt_family(part)
        if family is not None:
            return f"Qt {family} module (unused)"
    if "PySide6" in parts:
        if "qml" in parts:
            return "QML import tree (unused)"
        if "plugins" in parts:
            reason = _plugin_reason(parts[parts.index("plugins") + 1 :])
            if reason is not None:
                return reason
        if "translations" in parts and parts[-1].endswith(".qm"):
            return _translation_reason(parts[-1], languages)
    if platform.startswith("linux") and len(parts) == 1:
        return _system_library_reason(parts[0], source)
    return None


def _plugin_reason(below_plugins: tuple[str, ...]) -> str | None:
    """Rule 3 for ``plugins/<folder>/<file>``."""
    if len(below_plugins) < 2:
        return None
    folder = below_plugins[0]
    if folder in DROPPED_PLUGIN_DIRS:
        return f"Qt {folder} plugins (unused)"
    kept = KEPT_PLUGINS.get(folder)
    if kept is not None and _plugin_stem(below_plugins[-1]) not in kept:
        return f"Qt {folder} plugin not needed"
    return None


def _translation_reason(file_name: str, languages: frozenset[str]) -> str | None:
    """Rule 4 for a ``.qm`` file of Qt's."""
    match = _TRANSLATION.match(file_name)
    if (
        match is None
        or match.group("catalog") not in _KEPT_CATALOGS
        or match.group("lang") not in languages
    ):
        return "Qt translation not shipped"
    return None


def _system_library_reason(file_name: str, source: str) -> str | None:
    """Rule 5 for a library PyInstaller put at the top of the bundle."""
    if source.replace("\\", "/").startswith(_SYSTEM_LIB_DIRS) and not file_name.startswith(
        PYTHON_RUNTIME_LIBS
    ):
        return "system library (a Depends of the .deb)"
    return None


def prune(
    toc: Iterable[TocEntry],
    *,
    platform: str = sys.platform,
    bindings: frozenset[str] | None = None,
    languages: frozenset[str] = frozenset(),
) -> tuple[list[TocEntry], list[tuple[TocEntry, str]]]:
    """Split ``toc`` into (kept entries, [(dropped entry, reason)]), order preserved."""
    kept: list[TocEntry] = []
    dropped: list[tuple[TocEntry, str]] = []
    for entry in toc:
        reason = drop_reason(
            entry[0], entry[1], platform=platform, bindings=bindings, languages=languages
        )
        if reason is None:
            kept.append(entry)
        else:
            dropped.append((entry, reason))
    return kept, dropped


def qt_modules_imported_by(package_dir: Path) -> frozenset[str]:
    """Names of the PySide6 modules (``QtGui``, ...) any ``*.py`` under ``package_dir`` imports."""
    found: set[str] = set()
    for source in sorted(package_dir.rglob("*.py")):
        text = source.read_text(encoding="utf-8", errors="replace")
        for dotted, listed in _IMPORT.findall(text):
            if dotted:
                found.add(dotted)
            for name in re.split(r"[\s,]+", listed):
                if name.startswith("Qt"):
                    found.add(name)
    return frozenset(found)


def app_languages(resources_dir: Path) -> frozenset[str]:
    """Language codes of the app's own catalogs, ``<resources>/translations/*_<lang>.qm``."""
    found: set[str] = set()
    for catalog in (resources_dir / "translations").glob("*.qm"):
        match = _CATALOG_LANGUAGE.search(catalog.name)
        if match is not None:
            found.add(match.group("lang"))
    return frozenset(found)


def check_protected(modules: Iterable[str]) -> None:
    """Raise :class:`PruneConflict` if a module in ``modules`` would be pruned."""
    conflicts = sorted(m for m in modules if _qt_family(m) is not None)
    if conflicts:
        raise PruneConflict(
            "the app imports "
            + ", ".join(conflicts)
            + ", which packaging_tools/prune.py drops: take its family out of"
            " DROPPED_QT_FAMILIES"
        )


_PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module("PySide6." + name)
print(" ".join(sorted(m.split(".")[1] for m in sys.modules
                      if m.startswith("PySide6.Qt") and m.count(".") == 1)))
"""


def pyside_bindings_loaded(
    modules: Iterable[str], *, python: str = sys.executable
) -> frozenset[str]:
    """The PySide6 modules that importing ``modules`` loads (each imports its dependencies).

    Runs ``python`` (default: this interpreter) in a subprocess so this process
    stays free of Qt; raises ``subprocess.CalledProcessError`` if an import fails.
    """
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [python, "-c", _PROBE, *sorted(set(modules))],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    return frozenset(result.stdout.split())
