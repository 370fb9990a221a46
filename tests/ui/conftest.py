"""Fixtures for the Qt face's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import FakeClient

_HERE = Path(__file__).resolve().parent

OFFSCREEN_NOISE = (
    # Qt's offscreen platform cannot raise windows or pass size hints on, and says so.
    r"This plugin does not support raise\(\)",
    r"This plugin does not support propagateSizeHints\(\)",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@pytest.fixture
def fake_client() -> FakeClient:
    return FakeClient()
