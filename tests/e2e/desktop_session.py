"""A real, private desktop session for end-to-end tests.

``DesktopSession`` starts, in a fresh temporary directory:

* Xvfb on a free display (``-displayfd``), screen 1280x800x24;
* a private D-Bus session bus (own config file: no service activation, so nothing
  is started behind our back and nothing outlives the session);
* dunst, the notification daemon (``dunstctl history`` shows what arrived);
* trayer, an XEmbed tray host (optional);
* status-notifier-watcher, a StatusNotifierItem watcher (optional);
* PulseAudio with a null sink called ``null`` (optional); ``null.monitor``
  records everything that is played.

Every part is waited for until it answers (polling with a deadline). On exit every
helper is ended by its PID (SIGTERM, wait, SIGKILL) and the directory is removed.
Helpers are started under ``setpriv --pdeathsig TERM`` when available, so they
also go away if the Python process that started them dies without cleaning up.

The module needs nothing but the standard library and the Debian packages listed
in ``apt-packages.txt`` next to it; it does not import pytest.

Example::

    with DesktopSession() as desktop:
        subprocess.run(["notify-send", "hi"], env=desktop.env, check=True)
        assert desktop.wait_for_notifications(1)[0]["summary"] == "hi"
"""

from __future__ import annotations

import array
import contextlib
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "PROGRAM_PACKAGES",
    "DesktopSession",
    "DesktopSessionError",
    "missing_packages",
    "missing_programs",
    "peak_amplitude",
    "required_programs",
    "wait_until",
    "write_tone",
]

T = TypeVar("T")

#: Program on PATH -> Debian package that provides it (bookworm).
PROGRAM_PACKAGES: dict[str, str] = {
    "Xvfb": "xvfb",
    "xdpyinfo": "x11-utils",
    "xwininfo": "x11-utils",
    "xwd": "x11-apps",  # not in imagemagick nor x11-utils
    "convert": "imagemagick",
    "dbus-daemon": "dbus",
    "dbus-send": "dbus",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "busctl": "systemd",  # `dunstctl history` calls busctl
    "notify-send": "libnotify-bin",
    "trayer": "trayer",
    "status-notifier-watcher": "haskell-status-notifier-item-utils",
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "paplay": "pulseaudio-utils",
    "parecord": "pulseaudio-utils",
    "xdotool": "xdotool",
}

_CORE_PROGRAMS = ("Xvfb", "xdpyinfo", "xwininfo", "xwd", "convert", "dbus-daemon", "dbus-send")
_NOTIFY_PROGRAMS = ("dunst", "dunstctl", "busctl", "notify-send")
_TRAY_PROGRAMS = ("trayer",)
_SNI_PROGRAMS = ("status-notifier-watcher",)
_SOUND_PROGRAMS = ("pulseaudio", "pactl", "paplay", "parecord")

#: Variables of the outer session that must not leak into the private one.
_DROPPED_ENV = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_SESSION_BUS_PID",
    "DBUS_SESSION_BUS_WINDOWID",
    "SESSION_MANAGER",
    "DESKTOP_SESSION",
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_DESKTOP",
    "XDG_SESSION_TYPE",
    "XDG_SESSION_ID",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "PULSE_SERVER",
    "PULSE_SINK",
    "PULSE_SOURCE",
    "PULSE_COOKIE",
    "PULSE_CLIENTCONFIG",
    "QT_QPA_PLATFORM",
    "QT_QPA_PLATFORMTHEME",
    "QT_SCALE_FACTOR",
    "QT_SCREEN_SCALE_FACTORS",
    "GDK_BACKEND",
)

_DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- no standard service dirs: nothing is activated behind the session's back -->
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

_DUNSTRC = """[global]
    monitor = 0
    follow = none
    width = 320
    height = 120
    origin = top-right
    offset = 10x40
    notification_limit = 0
    font = DejaVu Sans 9
    history_length = 200
    sticky_history = yes
    idle_threshold = 0
    show_indicators = no
    ignore_dbusclose = no
    mouse_left_click = do_action, close_current
    mouse_middle_click = close_all
    mouse_right_click = close_current

# Notifications stay on screen until closed, so that screenshots show them;
# DesktopSession.notifications() closes them all and reads the history.
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""

# The null sink renders in blocks as long as the smallest latency any stream asks
# for, 2 s when none asks; a block once scheduled is not cut short, and a recording
# of the monitor stops rewinds. So a sound played after an idle spell took ~2 s to
# play (paplay of a 0.3 s tone: 2.2 s; QSoundEffect's playingChanged(False) late).
# Fix: the sink starts suspended, a low-latency recording of null.monitor (the
# "pulse-keeper", to /dev/null) connects, then the sink resumes: from then on every
# block is 10 ms and sounds take their own length.
_PULSE_SCRIPT = """load-module module-null-sink sink_name=null rate=44100 channels=2
suspend-sink null 1
set-default-sink null
set-default-source null.monitor
load-module module-native-protocol-unix socket={socket} auth-anonymous=1 auth-cookie-enabled=0
"""

# Exit status 0 iff the X selection named argv[2] has an owner on display argv[1].
# Run in a child process: Xlib's default I/O error handler calls exit().
_SELECTION_OWNER_SCRIPT = r"""
import ctypes, sys
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XGetSelectionOwner.restype = ctypes.c_ulong
x.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]
d = x.XOpenDisplay(sys.argv[1].encode())
if not d:
    sys.exit(2)
owner = x.XGetSelectionOwner(d, x.XInternAtom(d, sys.argv[2].encode(), 0))
x.XCloseDisplay(d)
sys.exit(0 if owner else 1)
"""


class DesktopSessionError(RuntimeError):
    """A part of the desktop session did not start or a helper command failed."""


def required_programs(
    *,
    tray: bool = True,
    status_notifier: bool = True,
    sound: bool = True,
    notification_daemon: bool = True,
) -> list[str]:
    """The programs a session with these parts (and its helpers) needs."""
    programs = list(_CORE_PROGRAMS)
    if notification_daemon:
        programs += _NOTIFY_PROGRAMS
    if tray:
        programs += _TRAY_PROGRAMS
    if status_notifier:
        programs += _SNI_PROGRAMS
    if sound:
        programs += _SOUND_PROGRAMS
    return programs


def missing_programs(
    *,
    tray: bool = True,
    status_notifier: bool = True,
    sound: bool = True,
    notification_daemon: bool = True,
) -> list[str]:
    """Programs needed by such a session that are not on PATH."""
    return [
        program
        for program in required_programs(
            tray=tray,
            status_notifier=status_notifier,
            sound=sound,
            notification_daemon=notification_daemon,
        )
        if shutil.which(program) is None
    ]


def missing_packages(programs: Iterable[str]) -> list[str]:
    """Sorted Debian packages that provide ``programs``."""
    return sorted({PROGRAM_PACKAGES.get(program, program) for program in programs})


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.02,
    max_interval: float = 0.25,
) -> T:
    """Poll ``predicate`` until it returns a truthy value; return that value.

    Raises ``DesktopSessionError`` naming ``what`` when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DesktopSessionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)


def write_tone(
    path: str | os.PathLike[str],
    *,
    frequency: float = 440.0,
    seconds: float = 0.5,
    amplitude: float = 0.5,
    rate: int = 44100,
) -> Path:
    """Write a mono 16-bit sine tone WAV file; return its path."""
    frames = array.array("h")
    count = int(seconds * rate)
    scale = amplitude * 32767
    for i in range(count):
        frames.append(int(scale * math.sin(2 * math.pi * frequency * i / rate)))
    if sys.byteorder != "little":
        frames.byteswap()
    out = Path(path)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames.tobytes())
    return out


def peak_amplitude(path: str | os.PathLike[str]) -> float:
    """Peak absolute sample value of a PCM WAV file, scaled to 0.0 .. 1.0."""
    with wave.open(str(path), "rb") as wav:
        width = wav.getsampwidth()
        data = wav.readframes(wav.getnframes())
    if not data:
        return 0.0
    if width == 1:  # unsigned 8-bit
        return max(abs(b - 128) for b in data) / 128.0
    if width == 2:
        typecode, full_scale = "h", 32768.0
    elif width == 4:
        typecode, full_scale = "i", 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    samples = array.array(typecode)
    samples.frombytes(data[: len(data) - len(data) % width])
    if sys.byteorder != "little":
        samples.byteswap()
    return max(max(samples), -min(samples)) / full_scale


def _plain(value: Any) -> Any:
    """Unwrap busctl's JSON ``{"type": ..., "data": ...}`` variants recursively."""
    if isinstance(value, dict):
        if set(value) == {"type", "data"}:
            return _plain(value["data"])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@dataclass
class _Helper:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


class DesktopSession:
    """Xvfb + private D-Bus + dunst (+ trayer, status-notifier-watcher, PulseAudio).

    Use as a context manager; ``start()``/``close()`` do the same by hand.
    Pass ``env`` to every process that should live in the session.
    """

    def __init__(
        self,
        *,
        tray: bool = True,
        status_notifier: bool = True,
        sound: bool = True,
        notification_daemon: bool = True,
        screen: str = "1280x800x24",
        start_timeout: float = 20.0,
        keep_dir: bool = False,
    ) -> None:
        self.tray = tray
        self.status_notifier = status_notifier
        self.sound = sound
        self.notification_daemon = notification_daemon
        self.screen = screen
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir
        self._dir: Path | None = None
        self._display: str | None = None
        self._env: dict[str, str] = {}
        self._helpers: list[_Helper] = []
        self._spawned: list[_Helper] = []
        self._recording: _Helper | None = None
        self._recording_path: Path | None = None
        self._startup_seconds: float | None = None
        self._setpriv = shutil.which("setpriv")

    # ------------------------------------------------------------------ public

    @property
    def directory(self) -> Path:
        """The session's temporary directory (HOME, runtime dir and logs are in it)."""
        if self._dir is None:
            raise DesktopSessionError("the session is not started")
        return self._dir

    @property
    def display(self) -> str:
        """The X display, e.g. ``":3"``."""
        if self._display is None:
            raise DesktopSessionError("the session is not started")
        return self._display

    @property
    def env(self) -> dict[str, str]:
        """A copy of the environment to run a process inside the session."""
        if not self._env:
            raise DesktopSessionError("the session is not started")
        return dict(self._env)

    @property
    def home(self) -> Path:
        return self.directory / "home"

    @property
    def runtime_dir(self) -> Path:
        return self.directory / "run"

    @property
    def log_dir(self) -> Path:
        return self.directory / "logs"

    @property
    def startup_seconds(self) -> float:
        """Wall time ``start()`` took, in seconds."""
        if self._startup_seconds is None:
            raise DesktopSessionError("the session is not started")
        return self._startup_seconds

    def helper_pids(self) -> dict[str, int]:
        """PIDs of the running session helpers (and spawned processes), by name."""
        return {
            helper.name: helper.process.pid
            for helper in [*self._helpers, *self._spawned]
            if helper.process.poll() is None
        }

    def __enter__(self) -> DesktopSession:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start every part and wait until each one answers."""
        if self._dir is not None:
            raise DesktopSessionError("the session is already started")
        missing = missing_programs(
            tray=self.tray,
            status_notifier=self.status_notifier,
            sound=self.sound,
            notification_daemon=self.notification_daemon,
        )
        if missing:
            raise DesktopSessionError(
                "missing programs "
                + ", ".join(missing)
                + "; install Debian packages: "
                + " ".join(missing_packages(missing))
            )
        began = time.monotonic()
        deadline = began + self.start_timeout
        pipes: list[int] = []  # read ends Xvfb and dbus-daemon report on
        try:
            self._make_dirs()
            pipes.append(self._launch_xvfb())
            pipes.append(self._launch_dbus())
            xvfb_fd, bus_fd = pipes
            self._display = ":" + self._read_line(xvfb_fd, self._helpers[0], deadline)
            bus_address = self._read_line(bus_fd, self._helpers[1], deadline)
            for fd in pipes:
                os.close(fd)
            pipes.clear()
            self._env = self._session_env(bus_address)
            self._wait_x(deadline)
            self._wait_bus(deadline)
            # The rest needs only X and the bus: launch them all, then wait for each.
            if self.notification_daemon:
                self._launch("dunst", ["dunst", "-config", str(self.directory / "dunstrc")])
            if self.tray:
                self._launch(
                    "trayer",
                    [
                        "trayer",
                        "--edge", "top",
                        "--align", "right",
                        "--widthtype", "request",
                        "--height", "24",
                        "--SetDockType", "true",
                        "--SetPartialStrut", "true",
                        "--transparent", "false",
                    ],
                )  # fmt: skip
            if self.status_notifier:
                self._launch("status-notifier-watcher", ["status-notifier-watcher"])
            if self.sound:
                self._launch_pulseaudio()
            if self.notification_daemon:
                self._wait_helper("dunst", deadline, self._dunst_ready)
            if self.tray:
                self._wait_helper("trayer", deadline, self._tray_ready)
            if self.status_notifier:
                self._wait_helper(
                    "status-notifier-watcher",
                    deadline,
                    lambda: self.name_has_owner("org.kde.StatusNotifierWatcher"),
                )
            if self.sound:
                self._wait_helper("pulseaudio", deadline, self._pulse_ready)
                self._start_sound_keeper(deadline)
        except BaseException:
            for fd in pipes:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.close()
            raise
        self._startup_seconds = time.monotonic() - began

    def close(self) -> None:
        """End every helper by its PID and remove the temporary directory."""
        errors: list[str] = []
        if self._recording is not None:
            self._end(self._recording, errors, sig=signal.SIGINT)
            self._recording = None
        for helper in reversed(self._spawned):
            self._end(helper, errors)
        self._spawned.clear()
        for helper in reversed(self._helpers):
            self._end(helper, errors)
        self._helpers.clear()
        if self._dir is not None and not self.keep_dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._display = None
        self._env = {}
        if errors:
            raise DesktopSessionError("; ".join(errors))

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float = 10.0,
        check: bool = True,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a command in the session, capturing its output, bounded by ``timeout``."""
        try:
            result = subprocess.run(
                list(args),
                env=self.env,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DesktopSessionError(f"{args[0]} did not finish within {timeout:g} s") from exc
        if check and result.returncode != 0:
            raise DesktopSessionError(
                f"{' '.join(args)} exited with {result.returncode}: "
                + result.stderr.decode(errors="replace").strip()
            )
        return result

    def spawn(
        self,
        args: Sequence[str],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in the session; it is ended on ``close()``.

        Its output goes to ``log_dir/<name>.log`` (see ``log``). ``env`` adds to
        or overrides the session's environment.
        """
        helper = self._start_process(name or Path(args[0]).name, args, extra_env=env)
        self._spawned.append(helper)
        return helper.process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 5.0) -> int:
        """End a process from ``spawn()`` now (SIGTERM, then SIGKILL); return its status."""
        for helper in self._spawned:
            if helper.process is process:
                self._spawned.remove(helper)
                errors: list[str] = []
                self._end(helper, errors, timeout=timeout)
                break
        else:
            raise ValueError("not a process spawned by this session")
        return process.returncode

    def log(self, name: str) -> str:
        """The output so far of a helper or spawned process, by name."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def name_has_owner(self, name: str) -> bool:
        """Whether ``name`` is owned on the session bus."""
        result = self.run(
            [
                "dbus-send",
                "--session",
                "--print-reply=literal",
                "--reply-timeout=2000",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            check=False,
            timeout=5,
        )
        return result.returncode == 0 and b"true" in result.stdout

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Grab the whole screen into a PNG file; return its path."""
        out = Path(path)
        grab = self.run(["xwd", "-root", "-silent", "-display", self.display], timeout=15)
        self.run(["convert", "xwd:-", f"png:{out}"], input=grab.stdout, timeout=30)
        if not out.exists() or out.stat().st_size == 0:
            raise DesktopSessionError(f"convert wrote no {out}")
        return out

    def notifications(self) -> list[dict[str, Any]]:
        """Close every notification in dunst and return its history, oldest first.

        Each entry is a plain dict with at least ``summary``, ``body``, ``appname``,
        ``id``, ``urgency`` (and whatever else dunst reports, e.g. ``category``,
        ``default_action_name``, ``icon_path``, ``timestamp``). ``actions`` is there
        only if dunst reports it: dunst 1.9 (bookworm) does not, its history shows
        only ``default_action_name``.
        """
        self.run(["dunstctl", "close-all"])
        raw = self.run(["dunstctl", "history"]).stdout
        data = _plain(json.loads(raw))
        # busctl wraps the method's reply (one aa{sv}) in a list.
        entries = data[0] if data and isinstance(data[0], list) else data
        result: list[dict[str, Any]] = []
        for entry in entries:
            item = dict(entry)
            item.setdefault("summary", "")
            item.setdefault("body", "")
            item.setdefault("appname", "")
            if "actions" in item:  # dunst 1.9 does not report actions in its history
                item["actions"] = list(item["actions"])
            result.append(item)
        result.sort(key=lambda item: int(item.get("id", 0)))
        return result

    def wait_for_notifications(
        self, count: int = 1, *, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Poll ``notifications()`` until at least ``count`` arrived; return them all."""

        def enough() -> list[dict[str, Any]] | None:
            found = self.notifications()
            return found if len(found) >= count else None

        return wait_until(
            enough,
            timeout=timeout,
            what=f"{count} notification(s) in dunst",
        )

    def window_ids(self, name_substring: str, *, under: int | None = None) -> list[int]:
        """IDs of X windows whose name (WM_NAME) contains ``name_substring``.

        Searches the whole screen, or only below the window ``under``.
        """
        where = ["-root"] if under is None else ["-id", str(under)]
        tree = self.run(["xwininfo", *where, "-tree"]).stdout.decode(errors="replace")
        ids: list[int] = []
        for line in tree.splitlines():
            parts = line.strip().split(" ", 1)
            if len(parts) != 2 or not parts[0].startswith("0x"):
                continue
            rest = parts[1]
            if not rest.startswith('"'):
                continue  # (has no name)
            end = rest.rfind('": (')
            name = rest[1:end] if end > 0 else rest[1:]
            if name_substring in name:
                ids.append(int(parts[0], 16))
        return ids

    def wait_for_window(
        self, name_substring: str, *, under: int | None = None, timeout: float = 10.0
    ) -> list[int]:
        """Poll ``window_ids`` until a window matches; return the matching IDs."""
        return wait_until(
            lambda: self.window_ids(name_substring, under=under),
            timeout=timeout,
            what=f"a window named like {name_substring!r}",
        )

    def tray_owner_present(self) -> bool:
        """Whether an XEmbed tray host owns ``_NET_SYSTEM_TRAY_S0``."""
        return self._selection_owned("_NET_SYSTEM_TRAY_S0")

    # sound ------------------------------------------------------------------

    def start_recording(self, path: str | os.PathLike[str]) -> Path:
        """Record ``null.monitor`` (all that is played) into a WAV file.

        Returns once the recording stream is connected.
        """
        if not self.sound:
            raise DesktopSessionError("the session was started with sound=False")
        if self._recording is not None:
            raise DesktopSessionError("a recording is already running")
        out = Path(path)
        before = self._source_outputs()
        helper = self._start_process(
            "parecord",
            [
                "parecord",
                "--device=null.monitor",
                "--file-format=wav",
                "--format=s16le",
                "--rate=44100",
                "--channels=2",
                "--latency-msec=20",
                str(out),
            ],
        )
        self._recording, self._recording_path = helper, out

        def connected() -> bool:
            if helper.process.poll() is not None:
                raise DesktopSessionError(
                    f"parecord exited with {helper.process.returncode}: {self.log('parecord')}"
                )
            return bool(self._source_outputs() - before)

        wait_until(connected, timeout=10, what="parecord to connect to null.monitor")
        return out

    def stop_recording(self) -> Path:
        """Stop the recording; return the finished WAV file."""
        helper, out = self._recording, self._recording_path
        if helper is None or out is None:
            raise DesktopSessionError("no recording is running")
        self._recording = self._recording_path = None
        errors: list[str] = []
        self._end(helper, errors, sig=signal.SIGINT)
        if errors:
            raise DesktopSessionError("; ".join(errors))
        return out

    def record_sound(self, seconds: float, path: str | os.PathLike[str] | None = None) -> Path:
        """Record ``seconds`` of ``null.monitor``; return the WAV file.

        Without ``path`` the file goes into the session directory (removed on close).
        """
        out = Path(path) if path is not None else self.directory / f"rec-{time.time_ns()}.wav"
        self.start_recording(out)
        try:
            time.sleep(seconds)  # the recording's length, not a wait for readiness
        finally:
            self.stop_recording()
        return out

    # ----------------------------------------------------------------- private

    def _make_dirs(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="desktop-session-"))
        for sub in ("home", "run", "logs", "dbus-services", "home/.config/pulse"):
            (self._dir / sub).mkdir(parents=True, exist_ok=True)
        for private in ("home", "run"):
            (self._dir / private).chmod(0o700)
        (self._dir / "dbus.conf").write_text(
            _DBUS_CONFIG.format(
                socket=self._dir / "run" / "bus", servicedir=self._dir / "dbus-services"
            )
        )
        (self._dir / "dunstrc").write_text(_DUNSTRC)
        # Clients must never start a pulseaudio of their own (it would outlive us).
        (self._dir / "home/.config/pulse/client.conf").write_text("autospawn = no\n")

    def _session_env(self, bus_address: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        home = self.home
        env.update(
            {
                "DISPLAY": self.display,
                "DBUS_SESSION_BUS_ADDRESS": bus_address,
                "HOME": str(home),
                "XDG_RUNTIME_DIR": str(self.runtime_dir),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CACHE_HOME": str(home / ".cache"),
                "XDG_STATE_HOME": str(home / ".local/state"),
                "XDG_SESSION_TYPE": "x11",
                "QT_QPA_PLATFORM": "xcb",
                "PULSE_SERVER": f"unix:{self.runtime_dir / 'pulse' / 'native'}",
                "NO_AT_BRIDGE": "1",
            }
        )
        return env

    def _wrap(self, args: Sequence[str]) -> list[str]:
        if self._setpriv:
            return [self._setpriv, "--pdeathsig", "TERM", "--", *args]
        return list(args)

    def _start_process(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> _Helper:
        log_path = self.log_dir / f"{name}.log"
        full_env = dict(env) if env is not None else self.env
        if extra_env:
            full_env.update(extra_env)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                self._wrap(args),
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=tuple(pass_fds),
                start_new_session=True,  # a Ctrl-C in the terminal reaches only pytest
            )
        return _Helper(name, process, log_path)

    def _launch(self, name: str, args: Sequence[str]) -> _Helper:
        helper = self._start_process(name, args)
        self._helpers.append(helper)
        return helper

    def _launch_xvfb(self) -> int:
        read_fd, write_fd = os.pipe()
        try:
            env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
            helper = self._start_process(
                "Xvfb",
                [
                    "Xvfb",
                    "-displayfd", str(write_fd),
                    "-screen", "0", self.screen,
                    "-nolisten", "tcp",
                    "-noreset",
                ],
                env=env,
                pass_fds=[write_fd],
            )  # fmt: skip
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._helpers.append(helper)
        return read_fd

    def _launch_dbus(self) -> int:
        read_fd, write_fd = os.pipe()
        try:
            env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
            env["HOME"] = str(self.home)
            env["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
            helper = self._start_process(
                "dbus-daemon",
                [
                    "dbus-daemon",
                    f"--config-file={self.directory / 'dbus.conf'}",
                    "--nofork",
                    "--nopidfile",
                    f"--print-address={write_fd}",
                ],
                env=env,
                pass_fds=[write_fd],
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._helpers.append(helper)
        return read_fd

    def _launch_pulseaudio(self) -> None:
        script = self.directory / "pulse.pa"
        script.write_text(_PULSE_SCRIPT.format(socket=self.runtime_dir / "pulse" / "native"))
        self._launch(
            "pulseaudio",
            [
                "pulseaudio",
                "-n",
                "--daemonize=no",
                "--system=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--use-pid-file=no",
                "--realtime=no",
                "--high-priority=no",
                "--log-target=stderr",
                "-F", str(script),
            ],
        )  # fmt: skip

    def _start_sound_keeper(self, deadline: float) -> None:
        """Give the null sink 10 ms blocks from the start (see ``_PULSE_SCRIPT``)."""
        before = self._source_outputs()
        self._launch(
            "pulse-keeper",
            [
                "parecord",
                "--raw",
                "--device=null.monitor",
                "--latency-msec=10",
                os.devnull,
            ],
        )
        self._wait_helper("pulse-keeper", deadline, lambda: bool(self._source_outputs() - before))
        self.run(["pactl", "suspend-sink", "null", "0"], timeout=5)
        self._wait_helper("pulseaudio", deadline, lambda: self._sink_state() == b"IDLE")

    def _read_line(self, fd: int, helper: _Helper, deadline: float) -> str:
        """Read one line a helper writes to ``fd``."""
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DesktopSessionError(
                    f"{helper.name} did not report within the start timeout:\n" + self._tail(helper)
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
            elif helper.process.poll() is not None:
                break
        line = data.decode().strip()
        if not line:
            with contextlib.suppress(subprocess.TimeoutExpired):
                helper.process.wait(timeout=2)
            raise DesktopSessionError(
                f"{helper.name} exited ({helper.process.returncode}) before reporting:\n"
                + self._tail(helper)
            )
        return line

    def _helper(self, name: str) -> _Helper:
        for helper in self._helpers:
            if helper.name == name:
                return helper
        raise KeyError(name)

    def _wait_helper(self, name: str, deadline: float, ready: Callable[[], bool]) -> None:
        helper = self._helper(name)

        def check() -> bool:
            if helper.process.poll() is not None:
                raise DesktopSessionError(
                    f"{name} exited with {helper.process.returncode}:\n" + self._tail(helper)
                )
            return ready()

        try:
            wait_until(check, timeout=max(deadline - time.monotonic(), 0.1), what=name)
        except DesktopSessionError as exc:
            if helper.process.poll() is None:
                raise DesktopSessionError(f"{exc}; its output:\n{self._tail(helper)}") from None
            raise

    def _wait_x(self, deadline: float) -> None:
        self._wait_helper(
            "Xvfb",
            deadline,
            lambda: self.run(["xdpyinfo"], check=False, timeout=5).returncode == 0,
        )

    def _wait_bus(self, deadline: float) -> None:
        self._wait_helper(
            "dbus-daemon", deadline, lambda: self.name_has_owner("org.freedesktop.DBus")
        )

    def _dunst_ready(self) -> bool:
        return self.name_has_owner("org.freedesktop.Notifications")

    def _tray_ready(self) -> bool:
        return self._selection_owned("_NET_SYSTEM_TRAY_S0")

    def _sink_state(self) -> bytes | None:
        """State of the ``null`` sink (``b"SUSPENDED"``, ``b"IDLE"``, ...), None if absent."""
        result = self.run(["pactl", "list", "short", "sinks"], check=False, timeout=5)
        if result.returncode != 0:
            return None
        for line in result.stdout.splitlines():
            fields = line.split(b"\t")
            if fields[1:2] == [b"null"]:
                return fields[-1].strip()
        return None

    def _pulse_ready(self) -> bool:
        return self._sink_state() is not None

    def _selection_owned(self, selection: str) -> bool:
        result = self.run(
            [sys.executable, "-c", _SELECTION_OWNER_SCRIPT, self.display, selection],
            check=False,
            timeout=5,
        )
        return result.returncode == 0

    def _source_outputs(self) -> set[bytes]:
        result = self.run(["pactl", "list", "short", "source-outputs"], timeout=5)
        return {line.split(b"\t", 1)[0] for line in result.stdout.splitlines() if line}

    @staticmethod
    def _tail(helper: _Helper, lines: int = 30) -> str:
        try:
            text = helper.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    @staticmethod
    def _end(
        helper: _Helper,
        errors: list[str],
        *,
        sig: signal.Signals = signal.SIGTERM,
        timeout: float = 5.0,
    ) -> None:
        process = helper.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    errors.append(f"{helper.name} (pid {process.pid}) did not die")
