"""Start Seller Notifier when the seller logs in: one switch, three platforms.

* Linux and other XDG desktops: ``seller-notifier.desktop`` in the user's
  autostart folder (``$XDG_CONFIG_HOME/autostart``), made from the app's own
  desktop entry with ``Exec`` pointing at the running installation.
* Windows: a value ``Seller Notifier`` under
  ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.
* macOS: a LaunchAgent ``~/Library/LaunchAgents/com.sellernotifier.app.plist``
  with ``RunAtLoad`` (takes effect at the next login).

While ``SELLER_NOTIFIER_HOME`` is set (tests, a portable copy) the Linux entry
goes to ``$SELLER_NOTIFIER_HOME/autostart`` and the macOS agent under
``$SELLER_NOTIFIER_HOME/LaunchAgents`` instead: an isolated instance never
changes the real session. Windows' registry writer is injectable for the same
reason. No Qt here.
"""

from __future__ import annotations

import importlib
import os
import plistlib
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from subprocess import list2cmdline
from typing import Any, Final, Protocol

from app.config.paths import HOME_ENV
from app.resources import DESKTOP_FILE_NAME, ResourceMissing, desktop_entry_path

RUN_KEY_PATH: Final = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE_NAME: Final = "Seller Notifier"
LAUNCH_AGENT_LABEL: Final = "com.sellernotifier.app"
"""Same as the macOS bundle identifier (packaging/seller-notifier.spec)."""

_FALLBACK_ENTRY: Final = """[Desktop Entry]
Type=Application
Name=Seller Notifier
Comment=Tray notifications for new orders, payments, reviews and tier upgrades
Exec=seller-notifier
Icon=seller-notifier
Terminal=false
"""

# Characters that make a desktop-entry Exec argument need quotes (spec, "The Exec key").
_NEEDS_QUOTES: Final = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")


class AutostartError(RuntimeError):
    """Start-on-login could not be changed; the message says what happened."""


class RunKey(Protocol):
    """The values of the Windows ``Run`` key (a fake in tests)."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class WindowsRunKey:
    """``HKEY_CURRENT_USER\\…\\Run`` through ``winreg`` (Windows only)."""

    def __init__(self) -> None:
        # importlib: typeshed declares winreg for win32 only, and this module
        # must type-check (and import) everywhere.
        self._winreg: Any = importlib.import_module("winreg")

    def get(self, name: str) -> str | None:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY_PATH) as key:
                value, _kind = reg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        reg = self._winreg
        with reg.CreateKey(reg.HKEY_CURRENT_USER, RUN_KEY_PATH) as key:
            reg.SetValueEx(key, name, 0, reg.REG_SZ, value)

    def delete(self, name: str) -> None:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def launch_command() -> list[str]:
    """How this installation is started: the frozen executable, the console
    script next to the interpreter, or ``python -m app``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = Path(sys.executable).with_name(
        "seller-notifier.exe" if sys.platform == "win32" else "seller-notifier"
    )
    if script.exists():
        return [str(script)]
    found = shutil.which("seller-notifier")
    return [found] if found else [sys.executable, "-m", "app"]


class Autostart:
    """Whether the app starts at login, and the switch to change it.

    Everything is injectable for tests: ``platform`` (``sys.platform`` values),
    ``home`` (the user's home), ``config_home`` (``$XDG_CONFIG_HOME``),
    ``command`` (what to run) and ``run_key`` (the Windows registry).
    """

    def __init__(
        self,
        *,
        platform: str | None = None,
        home: Path | None = None,
        config_home: Path | None = None,
        command: Sequence[str] | None = None,
        run_key: RunKey | None = None,
    ) -> None:
        self.platform = platform if platform is not None else sys.platform
        self._home = home if home is not None else Path.home()
        self._config_home = config_home
        self._command = list(command) if command is not None else None
        self._run_key = run_key
        isolated = os.environ.get(HOME_ENV, "").strip()
        self._isolated = Path(isolated).expanduser() if isolated else None

    # --- where ----------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        return self._command if self._command is not None else launch_command()

    @property
    def kind(self) -> str:
        """``xdg``, ``windows`` or ``macos``."""
        if self.platform == "win32":
            return "windows"
        if self.platform == "darwin":
            return "macos"
        return "xdg"

    @property
    def desktop_file(self) -> Path:
        """The XDG autostart entry (Linux)."""
        if self._isolated is not None:
            return self._isolated / "autostart" / DESKTOP_FILE_NAME
        base = self._config_home
        if base is None:
            configured = os.environ.get("XDG_CONFIG_HOME", "").strip()
            base = Path(configured) if configured else self._home / ".config"
        return base / "autostart" / DESKTOP_FILE_NAME

    @property
    def launch_agent(self) -> Path:
        """The LaunchAgent property list (macOS)."""
        folder = (
            self._isolated / "LaunchAgents"
            if self._isolated is not None
            else self._home / "Library" / "LaunchAgents"
        )
        return folder / f"{LAUNCH_AGENT_LABEL}.plist"

    def describe(self) -> str:
        """Where the switch is kept, for the settings dialog."""
        if self.kind == "windows":
            return f"registry: HKCU\\{RUN_KEY_PATH} → {RUN_VALUE_NAME}"
        if self.kind == "macos":
            return str(self.launch_agent)
        return str(self.desktop_file)

    # --- state ----------------------------------------------------------------------

    def is_enabled(self) -> bool:
        try:
            if self.kind == "windows":
                return self._registry().get(RUN_VALUE_NAME) is not None
            if self.kind == "macos":
                return self.launch_agent.is_file()
            return _entry_enabled(self.desktop_file)
        except OSError:
            return False

    def set_enabled(self, enabled: bool) -> None:
        """Turn start-on-login on or off; raises :class:`AutostartError` with a reason."""
        try:
            if self.kind == "windows":
                self._set_windows(enabled)
            elif self.kind == "macos":
                self._set_macos(enabled)
            else:
                self._set_xdg(enabled)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise AutostartError(f"could not change start on login ({reason})") from exc

    # --- platforms ------------------------------------------------------------------

    def _registry(self) -> RunKey:
        if self._run_key is None:
            self._run_key = WindowsRunKey()
        return self._run_key

    def _set_windows(self, enabled: bool) -> None:
        if enabled:
            self._registry().set(RUN_VALUE_NAME, list2cmdline(self.command))
        else:
            self._registry().delete(RUN_VALUE_NAME)

    def _set_macos(self, enabled: bool) -> None:
        path = self.launch_agent
        if not enabled:
            path.unlink(missing_ok=True)
            return
        agent = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(plistlib.dumps(agent))

    def _set_xdg(self, enabled: bool) -> None:
        path = self.desktop_file
        if not enabled:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(autostart_entry(self.command), encoding="utf-8")


def autostart_entry(command: Sequence[str]) -> str:
    """The app's desktop entry, with ``Exec`` running ``command`` and autostart keys set."""
    try:
        template = desktop_entry_path().read_text(encoding="utf-8")
    except (ResourceMissing, OSError):
        template = _FALLBACK_ENTRY
    lines: list[str] = []
    in_main = False
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            in_main = stripped == "[Desktop Entry]"
        if in_main and stripped.split("=", 1)[0].strip() in (
            "Exec",
            "TryExec",
            "Hidden",
            "X-GNOME-Autostart-enabled",
        ):
            continue
        lines.append(line)
        if stripped == "[Desktop Entry]":
            lines.append(f"Exec={exec_line(command)}")
            if command and Path(command[0]).is_absolute():
                # Once the package is removed, desktops skip an entry whose TryExec is
                # gone: an autostart entry left in a home folder starts nothing.
                lines.append(f"TryExec={command[0]}")
            lines.append("X-GNOME-Autostart-enabled=true")
    return "\n".join(lines) + "\n"


def exec_line(command: Sequence[str]) -> str:
    """``command`` quoted as the desktop entry specification asks."""
    quoted = []
    for arg in command:
        escaped = arg.replace("%", "%%")
        if _NEEDS_QUOTES.search(escaped) or not escaped:
            inner = re.sub(r'(["`$\\])', r"\\\1", escaped)
            escaped = f'"{inner}"'
        quoted.append(escaped)
    return " ".join(quoted)


def _entry_enabled(path: Path) -> bool:
    if not path.is_file():
        return False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip().lower()
        if (key == "Hidden" and value == "true") or (
            key == "X-GNOME-Autostart-enabled" and value == "false"
        ):
            return False
    return True
