"""Sounds: silent (one log line, no dialog) without an audio device, never a crash.

Playing on a real device is checked end to end (a PulseAudio null sink) in
tests/e2e/test_notifications_e2e.py.
"""

from __future__ import annotations

import logging

import pytest
from PySide6.QtWidgets import QApplication

from app.ui.sound import NO_DEVICE, SoundPlayer

# Seen only when a test pretends there is a device on this machine without one.
NO_SERVER_NOISE = (
    r"PulseAudioService: pa_context_connect\(\) failed",
    r"QSoundEffect\(pulseaudio\): Error decoding source",
    r"QSoundEffect: playback of this format is not supported",
)


def visible_windows() -> list[object]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def test_no_audio_device_is_silent_and_logged_once(
    qapp: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="seller_notifier")
    player = SoundPlayer(outputs=lambda: 0)
    assert [player.play("payment", 0.8) for _ in range(5)] == [False] * 5
    assert player.problem() == NO_DEVICE
    lines = [r for r in caplog.records if "notification sounds are off" in r.getMessage()]
    assert len(lines) == 1 and NO_DEVICE in lines[0].getMessage()
    assert visible_windows() == [], "no dialog"
    player.close()


def test_the_real_device_check_never_raises_nor_warns(qapp: object) -> None:
    # On a machine with sound this plays the payment sound at volume 0.
    player = SoundPlayer()
    played = player.play("payment", 0.0)
    assert played == (player.problem() is None)
    player.close()


@pytest.mark.qt_log_ignore(*NO_SERVER_NOISE)
def test_a_device_that_appears_later_is_used(qapp: object) -> None:
    devices = [0]
    player = SoundPlayer(outputs=lambda: devices[0])
    started: list[str] = []
    player.played.connect(started.append)
    assert not player.play("new-order", 0.5)
    devices[0] = 1
    assert player.play("new-order", 0.5)
    assert started == ["new-order"] and player.problem() is None
    player.close()


def test_an_unknown_sound_is_skipped(qapp: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="seller_notifier")
    player = SoundPlayer(outputs=lambda: 1)
    assert not player.play("../../etc/passwd", 0.5)
    assert not player.play("trumpet", 0.5)
    assert sum("not played" in r.getMessage() for r in caplog.records) == 2
    player.close()
