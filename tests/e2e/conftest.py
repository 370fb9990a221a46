"""Fixtures for the end-to-end desktop tests (real X server, tray, D-Bus, dunst, sound).

``desktop`` yields a started ``DesktopSession`` with every part on. Switch parts off
per test with ``@pytest.mark.desktop(status_notifier=False)`` (any keyword argument of
``DesktopSession``). Note: while status-notifier-watcher runs, Qt puts its tray icon
on D-Bus (StatusNotifierItem) and nothing draws it; ``showMessage`` then goes to
dunst. Without the watcher, trayer embeds and draws the icon (XEmbed) and Qt draws
its own balloon for ``showMessage``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # desktop_session.py is a plain module next to this file
    sys.path.insert(0, str(_HERE))

from desktop_session import (  # noqa: E402
    DesktopSession,
    missing_packages,
    missing_programs,
)

_PART_FLAGS = ("tray", "status_notifier", "sound", "notification_daemon")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "e2e: runs the real app under Xvfb with a tray host, D-Bus, dunst and PulseAudio",
    )
    config.addinivalue_line(
        "markers",
        "desktop(**kwargs): keyword arguments for the DesktopSession of the `desktop` "
        "fixture, e.g. desktop(status_notifier=False)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def skip_unless_desktop_programs(**parts: bool) -> None:
    """Skip the test, naming the Debian packages, if a needed program is missing."""
    missing = missing_programs(**parts)
    if missing:
        pytest.skip(
            "end-to-end desktop tests need Debian packages: "
            + " ".join(missing_packages(missing))
            + f" (missing programs: {', '.join(missing)}; see tests/e2e/apt-packages.txt)"
        )


@pytest.fixture
def desktop_programs() -> None:
    """Skip the test (naming the Debian packages) unless every session program is there."""
    skip_unless_desktop_programs()


@pytest.fixture
def desktop(request: pytest.FixtureRequest) -> Iterator[DesktopSession]:
    """A started private desktop session (Xvfb, D-Bus, dunst, trayer, SNI watcher, Pulse)."""
    marker = request.node.get_closest_marker("desktop")
    options = dict(marker.kwargs) if marker is not None else {}
    skip_unless_desktop_programs(
        **{flag: bool(options[flag]) for flag in _PART_FLAGS if flag in options}
    )
    with DesktopSession(**options) as session:
        yield session
