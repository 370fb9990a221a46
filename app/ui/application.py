"""The tray app's composition root: Qt application, qasync loop, and every part wired up.

``run(demo=..., debug=...)`` is what ``seller-notifier`` (no subcommand) calls.
Order of events: check that Qt can start at all → logging → QApplication →
single-instance check → asyncio on a qasync loop → tray, toasts, dashboard →
the connection (an in-process demo gateway, or the saved settings) as a task.
Quit (menu), SIGINT and SIGTERM all end in the same orderly shutdown and exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from ctypes.util import find_library
from logging.handlers import RotatingFileHandler
from types import FrameType
from typing import TYPE_CHECKING, Final

from app.config.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from PySide6.QtCore import QMessageLogContext, QtMsgType

log = logging.getLogger("seller_notifier.ui")

APP_ID: Final = "seller-notifier"

# Libraries Qt's xcb platform plugin loads from the system (PySide6 bundles the rest),
# with the Debian package that provides each.
_XCB_LIBRARIES: Final = (
    ("xcb-cursor", "libxcb-cursor0"),
    ("xcb-icccm", "libxcb-icccm4"),
    ("xcb-keysyms", "libxcb-keysyms1"),
    ("xcb-image", "libxcb-image0"),
    ("xcb-randr", "libxcb-randr0"),
    ("xcb-render-util", "libxcb-render-util0"),
    ("xcb-shape", "libxcb-shape0"),
    ("xcb-xkb", "libxcb-xkb1"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"),
    ("xkbcommon", "libxkbcommon0"),
    ("X11-xcb", "libx11-xcb1"),
    ("EGL", "libegl1"),
    ("GL", "libgl1"),
    ("fontconfig", "libfontconfig1"),
    ("dbus-1", "libdbus-1-3"),
)


def platform_problem(
    environ: os._Environ[str] | dict[str, str] | None = None,
    find: Callable[[str], str | None] = find_library,
) -> str | None:
    """Why Qt could not open a window here, in one line; None if it should work.

    Qt aborts the whole process (no exception) when its platform plugin cannot
    load, so this is checked before a QApplication exists: on Linux with the
    ``xcb`` platform, the system libraries the plugin needs, and that there is a
    display at all.
    """
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or getattr(sys, "frozen", False):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if not platform:
        if env.get("WAYLAND_DISPLAY"):
            return None
        if not env.get("DISPLAY"):
            return (
                "no graphical display found (DISPLAY is not set); start it from a desktop "
                "session, or set QT_QPA_PLATFORM=offscreen to run without windows"
            )
        platform = "xcb"
    if platform != "xcb":
        return None
    if not env.get("DISPLAY"):
        return (
            "QT_QPA_PLATFORM is xcb but DISPLAY is not set; start it from a desktop "
            "session, or set QT_QPA_PLATFORM=offscreen to run without windows"
        )
    missing = [package for library, package in _XCB_LIBRARIES if find(library) is None]
    if missing:
        return (
            "Qt cannot open windows on X11: system libraries are missing; install them "
            f"with: sudo apt install {' '.join(missing)}"
        )
    return None


def configure_logging(paths: AppPaths, *, debug: bool) -> None:
    """Log to the rotating log file (DEBUG with ``--debug``, else INFO); warnings to stderr."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        paths.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        file_handler: logging.Handler = RotatingFileHandler(
            paths.log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(formatter)
        file_handler.setLevel(logging.DEBUG if debug else logging.INFO)
        setattr(file_handler, _OURS, True)
        root.addHandler(file_handler)
    except OSError as exc:
        print(
            f"seller-notifier: cannot write the log file ({exc}); logging to stderr only",
            file=sys.stderr,
        )
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("seller-notifier: %(levelname)s: %(message)s"))
    console.setLevel(logging.WARNING)
    setattr(console, _OURS, True)
    root.addHandler(console)
    if not debug:
        # websockets logs every handshake failure at INFO with a traceback; not news.
        logging.getLogger("websockets").setLevel(logging.WARNING)


_OURS: Final = "_seller_notifier_handler"

_QT_NOISE: Final = ("This plugin does not support",)
"""Qt platform plugins (offscreen, some Wayland ones) saying they cannot raise or
position a window: expected there, and nothing a user can act on."""

_qt_log = logging.getLogger("seller_notifier.qt")


def _qt_message(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's own warnings go to the log like everything else."""
    from PySide6.QtCore import QtMsgType

    if any(message.startswith(noise) for noise in _QT_NOISE):
        level = logging.DEBUG
    else:
        level = {
            QtMsgType.QtDebugMsg: logging.DEBUG,
            QtMsgType.QtInfoMsg: logging.INFO,
            QtMsgType.QtWarningMsg: logging.WARNING,
            QtMsgType.QtCriticalMsg: logging.ERROR,
            QtMsgType.QtFatalMsg: logging.CRITICAL,
        }.get(mode, logging.WARNING)
    _qt_log.log(level, "%s", message)


class SignalLatch:
    """A signal handler that only remembers the signal.

    Installed for SIGINT and SIGTERM for the whole of :func:`run` except while
    the app's own loop handlers are in place: a signal that lands during start-up
    or teardown is noted (start-up then stops at the next step) instead of being
    raised inside Qt, so the app still quits in order and exits 0.
    """

    def __init__(self) -> None:
        self.received: str | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum).name


def run(*, demo: bool, debug: bool) -> int:
    """Run the tray app until Quit, SIGINT or SIGTERM; returns the exit code.

    0 on every normal way out (including "already running": the running one is
    asked to show its window, and a signal that comes before the window does);
    1 when Qt cannot start here (one line on stderr).
    """
    # From here on SIGINT/SIGTERM are only noted, never raised as exceptions: an
    # exception that lands inside Qt's import or a Qt callback can abort Python.
    latch = SignalLatch()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, latch)
    try:
        problem = platform_problem()
        if problem:
            print(f"seller-notifier: {problem}", file=sys.stderr)
            return 1
        return _run(demo=demo, debug=debug, latch=latch)
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def _import_before_qt() -> None:
    """Import the tray app's Qt-free stack before PySide6.

    Once PySide6 is loaded, its ``__feature__`` import hook reads the whole source
    of every module that runs an import statement (to see whether it uses PySide6),
    and linecache keeps it: 13 MiB and tens of milliseconds for this stack
    (pydantic, websockets, eth_utils, dbus_fast …) when it is imported after Qt.
    """
    import desktop_notifier  # noqa: F401

    import app.client  # noqa: F401
    import app.config.credentials  # noqa: F401
    import app.domain.policy  # noqa: F401
    import app.domain.replay_summary  # noqa: F401
    import app.store.caches  # noqa: F401
    import app.store.gaps  # noqa: F401
    import app.store.outbox  # noqa: F401


def _run(*, demo: bool, debug: bool, latch: SignalLatch) -> int:
    paths = app_paths().ensure()
    configure_logging(paths, debug=debug)

    _import_before_qt()

    # Qt is imported only now: --help and the platform check stay fast and Qt-free.
    import qasync
    from PySide6.QtCore import QEvent, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from app.ui.icons import forget_icons, svg_icon
    from app.ui.single_instance import SingleInstance
    from app.ui.tray_app import TrayApp

    if latch.received:
        return 0
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName("Seller Notifier")
    app.setOrganizationName(APP_ID)
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(svg_icon("seller-notifier"))
    previous_qt_handler = qInstallMessageHandler(_qt_message)

    instance = SingleInstance()
    try:
        if not instance.acquire():
            print("seller-notifier: already running; showing its window", file=sys.stderr)
            return 0
        log.info("starting (demo=%s, home=%s)", demo, paths.config_dir.parent)
        # asyncio.Runner leaves SIGINT alone since it is not Python's default handler.
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            tray_app = TrayApp(
                paths, demo=demo, instance=instance, early_signal=latch, debug=debug
            )
            return runner.run(tray_app.run())
    finally:
        instance.close()
        # Delete what deleteLater() queued, and the cached pixmaps, while Qt is alive.
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        forget_icons()
        qInstallMessageHandler(previous_qt_handler)
        log.info("stopped")
