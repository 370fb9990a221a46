"""Suite-wide fixtures: an isolated home for every test, Qt offscreen, qasync loops."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from keyring_support import MemoryKeyring

# Unit and widget tests never need a display; end-to-end tests pass their own env
# (with QT_QPA_PLATFORM=xcb) to the processes they start.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.pop("SELLER_NOTIFIER_SECRET", None)
os.environ.pop("SELLER_NOTIFIER_PUBLISH_KEY", None)

_GUI_FIXTURES = {"qapp", "qtbot", "qt_loop_app"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "qt_loop: run this asyncio test on a qasync loop (Qt timers and signals work)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that uses Qt is a gui test, so `pytest -m "not gui"` runs the core alone.
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _GUI_FIXTURES or item.get_closest_marker("qt_loop"):
            item.add_marker(pytest.mark.gui)


def _qasync_loop() -> asyncio.AbstractEventLoop:
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop: asyncio.AbstractEventLoop = qasync.QEventLoop(app)
    return loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests marked ``qt_loop`` run on qasync; with the default loop Qt timers never fire."""
    if item.get_closest_marker("qt_loop") is None:
        return {"asyncio": asyncio.new_event_loop}
    return {"qasync": _qasync_loop}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SELLER_NOTIFIER_HOME: the user's real files are never touched."""
    home = tmp_path / "seller-notifier-home"
    home.mkdir()
    monkeypatch.setenv("SELLER_NOTIFIER_HOME", str(home))
    yield home


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """A working keyring for this test only (restores the previous backend after)."""
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def wallet_a() -> str:
    return "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
def wallet_b() -> str:
    return "0x8617E340B3D01FA5F11F306F4090FD50E238070D"


def pytest_report_header(config: pytest.Config) -> list[str]:
    versions: dict[str, Any] = {}
    for name in ("PySide6", "websockets", "pydantic", "qasync"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            versions[name] = "missing"
    return ["versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())]
