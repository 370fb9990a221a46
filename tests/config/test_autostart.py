"""Start on login: the XDG entry for real, and the Windows Run key and macOS LaunchAgent
written by the same code with the platform and the registry injected (no Windows or
macOS machine needed; whether those desktops then start the app is not tested here)."""

from __future__ import annotations

import configparser
import plistlib
from pathlib import Path

import pytest

from app.config.autostart import (
    LAUNCH_AGENT_LABEL,
    RUN_VALUE_NAME,
    Autostart,
    AutostartError,
    autostart_entry,
    exec_line,
    launch_command,
)
from app.resources import DESKTOP_FILE_NAME

COMMAND = ["/opt/Seller Notifier/seller-notifier"]


class FakeRunKey:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


@pytest.fixture
def plain_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside an isolated SELLER_NOTIFIER_HOME, the session's own folders are used."""
    monkeypatch.delenv("SELLER_NOTIFIER_HOME")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


def parse(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser["Desktop Entry"]


def test_xdg_entry_round_trip(tmp_path: Path, plain_home: None) -> None:
    autostart = Autostart(platform="linux", home=tmp_path, command=COMMAND)
    path = tmp_path / ".config" / "autostart" / DESKTOP_FILE_NAME
    assert autostart.desktop_file == path and autostart.describe() == str(path)
    assert not autostart.is_enabled()

    autostart.set_enabled(True)
    assert autostart.is_enabled()
    entry = parse(path.read_text())
    assert entry["Exec"] == '"/opt/Seller Notifier/seller-notifier"'
    assert entry["Name"] == "Seller Notifier" and entry["Icon"] == "seller-notifier"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Type"] == "Application"

    autostart.set_enabled(False)
    assert not path.exists() and not autostart.is_enabled()
    autostart.set_enabled(False)  # already off: fine


def test_xdg_config_home_is_honoured(tmp_path: Path, plain_home: None) -> None:
    autostart = Autostart(platform="linux", home=tmp_path, config_home=tmp_path / "cfg")
    assert autostart.desktop_file == tmp_path / "cfg" / "autostart" / "seller-notifier.desktop"


def test_an_isolated_home_never_touches_the_session(tmp_path: Path, isolated_home: Path) -> None:
    autostart = Autostart(platform="linux", home=tmp_path / "user", command=COMMAND)
    autostart.set_enabled(True)
    assert (isolated_home / "autostart" / DESKTOP_FILE_NAME).is_file()
    assert not (tmp_path / "user").exists()


def test_an_entry_switched_off_by_the_desktop_counts_as_off(
    tmp_path: Path, plain_home: None
) -> None:
    autostart = Autostart(platform="linux", home=tmp_path, command=COMMAND)
    autostart.set_enabled(True)
    path = autostart.desktop_file
    path.write_text(path.read_text().replace("Autostart-enabled=true", "Autostart-enabled=false"))
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    assert autostart.is_enabled()


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path, plain_home: None) -> None:
    (tmp_path / ".config").write_text("a file where a folder should be")
    autostart = Autostart(platform="linux", home=tmp_path, command=COMMAND)
    with pytest.raises(AutostartError, match="could not change start on login"):
        autostart.set_enabled(True)
    assert not autostart.is_enabled()


def test_windows_run_key(tmp_path: Path) -> None:
    registry = FakeRunKey()
    home = tmp_path / "user"
    autostart = Autostart(
        platform="win32",
        home=home,
        command=[r"C:\Program Files\Seller Notifier\seller-notifier.exe"],
        run_key=registry,
    )
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    assert registry.values == {
        RUN_VALUE_NAME: r'"C:\Program Files\Seller Notifier\seller-notifier.exe"'
    }
    assert autostart.is_enabled()
    assert "CurrentVersion\\Run" in autostart.describe()
    autostart.set_enabled(False)
    assert registry.values == {} and not autostart.is_enabled()
    assert not home.exists(), "nothing written to disk on Windows"


def test_macos_launch_agent(tmp_path: Path, plain_home: None) -> None:
    autostart = Autostart(platform="darwin", home=tmp_path, command=COMMAND)
    path = tmp_path / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    assert autostart.launch_agent == path
    autostart.set_enabled(True)
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == LAUNCH_AGENT_LABEL
    assert agent["ProgramArguments"] == COMMAND
    assert agent["RunAtLoad"] is True
    assert autostart.is_enabled()
    autostart.set_enabled(False)
    assert not path.exists() and not autostart.is_enabled()


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (["/usr/bin/seller-notifier"], "/usr/bin/seller-notifier"),
        (["/usr/bin/python3", "-m", "app"], "/usr/bin/python3 -m app"),
        (["/a b/python", "100%"], '"/a b/python" 100%%'),
        (['/x/"q"$', "--demo"], '"/x/\\"q\\"\\$" --demo'),
    ],
)
def test_exec_line_quoting(command: list[str], line: str) -> None:
    assert exec_line(command) == line


def test_entry_keeps_the_app_entry_and_replaces_exec() -> None:
    entry = parse(autostart_entry(["/bin/seller-notifier"]))
    assert entry["Exec"] == "/bin/seller-notifier"
    assert entry["Categories"] == "Office;Finance;"


def test_the_default_command_runs_this_installation() -> None:
    command = launch_command()
    assert command, "never empty"
    assert Path(command[0]).name in ("seller-notifier", "python", "python3") or command[1:] == [
        "-m",
        "app",
    ]


def test_an_entry_left_after_uninstall_starts_nothing(tmp_path: Path) -> None:
    # Package removal cannot reach users' homes; TryExec makes a leftover entry inert,
    # because desktops skip an entry whose TryExec program no longer exists.
    program = tmp_path / "opt" / "seller-notifier"
    entry = parse(autostart_entry([str(program)]))
    assert entry["TryExec"] == str(program)
    assert not program.exists()
    relative = parse(autostart_entry(["seller-notifier"]))
    assert "TryExec" not in relative
