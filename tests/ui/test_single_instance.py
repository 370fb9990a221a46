"""One instance per user and home: a second launch hands over and asks the first to show."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from pytestqt.qtbot import QtBot

from app.ui.single_instance import SingleInstance, instance_key


@pytest.fixture
def key() -> str:
    return f"seller-notifier-test-{uuid.uuid4().hex[:12]}"


def test_second_instance_is_refused_and_raises_the_first(qtbot: QtBot, key: str) -> None:
    first = SingleInstance(key)
    second = SingleInstance(key)
    try:
        assert first.acquire() is True
        with qtbot.waitSignal(first.raise_requested, timeout=5000):
            assert second.acquire() is False
        assert first.is_primary and not second.is_primary
    finally:
        second.close()
        first.close()


def test_the_name_is_free_after_close(qtbot: QtBot, key: str) -> None:
    first = SingleInstance(key)
    assert first.acquire()
    first.close()
    again = SingleInstance(key)
    assert again.acquire()
    again.close()


def test_a_stale_socket_from_a_crash_is_taken_over(qtbot: QtBot, key: str) -> None:
    # A crashed instance leaves its socket file behind with nobody listening.
    socket_path = Path(QDir.tempPath()) / key
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(socket_path))
    leftover.close()
    assert socket_path.exists()

    instance = SingleInstance(key)
    try:
        assert instance.acquire() is True
        assert instance.is_primary
        assert SingleInstance(key).acquire() is False, "the new instance really listens"
    finally:
        instance.close()
        socket_path.unlink(missing_ok=True)


def test_key_depends_on_the_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SELLER_NOTIFIER_HOME", str(tmp_path / "one"))
    one = instance_key()
    monkeypatch.setenv("SELLER_NOTIFIER_HOME", str(tmp_path / "two"))
    two = instance_key()
    assert one != two
    assert one == instance_key() or two == instance_key()
    assert len(one) < 60
