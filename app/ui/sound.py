"""Sounds: the bundled WAVs (``resources/sounds``) played through QtMultimedia.

QtMultimedia is imported on first use, so the app starts as fast without it and
a missing module (PySide6-Essentials only) or a machine without an audio device
costs one log line, never a dialog or an exception: notifications simply stay
silent. The freedesktop ``sound-name`` hint is ignored by most desktops, so the
app plays sounds itself, for every adapter alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QLoggingCategory, QObject, QUrl, Signal

from app.resources import SOUNDS, ResourceMissing, sound_path
from app.ui.connections import disconnect_all

if TYPE_CHECKING:
    from PySide6.QtMultimedia import QSoundEffect

log = logging.getLogger("seller_notifier.ui")

NO_DEVICE: Final = "no audio output device"
_QUIET_CATEGORIES: Final = "qt.multimedia.symbolsresolver.warning=false"
"""QtMultimedia warns at start-up that it could not load PipeWire before it falls
back to PulseAudio: nothing the seller can act on."""
_QUIET_PROBE: Final = _QUIET_CATEGORIES + "\ndefault.warning=false"
"""While devices are listed: the PulseAudio backend warns ``pa_context_connect()
failed`` when no sound server runs, which is "no audio device", logged once here."""


def _count_outputs() -> int:
    from PySide6.QtMultimedia import QMediaDevices

    return len(QMediaDevices.audioOutputs())


class SoundPlayer(QObject):
    """Plays ``new-order``, ``payment``, ``review`` and ``tier-upgrade`` on demand.

    :meth:`play` returns False (and does nothing) when sound cannot work here;
    :meth:`problem` says why, and the reason is logged once. ``outputs`` counts
    the audio output devices (a seam for tests). ``played(str)`` is emitted for
    every sound actually started.
    """

    played = Signal(str)

    def __init__(
        self, parent: QObject | None = None, *, outputs: Callable[[], int] | None = None
    ) -> None:
        super().__init__(parent)
        self._outputs = outputs if outputs is not None else _count_outputs
        self._effects: dict[str, QSoundEffect] = {}
        self._problem: str | None = None
        self._logged: set[str] = set()

    def problem(self) -> str | None:
        """Why sounds do not play here (None: they should)."""
        return self._problem

    def preload(self, names: Iterable[str] = SOUNDS) -> None:
        """Load the sounds now, so the first one plays without delay."""
        if self._ready():
            for name in names:
                self._effect(name)

    def play(self, name: str, volume: float) -> bool:
        """Start sound ``name`` at ``volume`` (0.0–1.0); False if it cannot play."""
        if not self._ready():
            return False
        effect = self._effect(name)
        if effect is None:
            return False
        effect.setVolume(min(max(volume, 0.0), 1.0))
        effect.play()
        log.debug("playing sound %s at volume %.2f", name, volume)
        self.played.emit(name)
        return True

    def close(self) -> None:
        for effect in self._effects.values():
            disconnect_all(effect.statusChanged, effect.playingChanged)
            effect.stop()
            effect.deleteLater()
        self._effects.clear()

    # --- internals ------------------------------------------------------------------

    def _ready(self) -> bool:
        if self._problem is not None and self._problem != NO_DEVICE:
            return False
        try:
            QLoggingCategory.setFilterRules(_QUIET_PROBE)
            outputs = self._outputs()
        except ImportError as exc:
            self._fail(f"QtMultimedia is not available ({exc})")
            return False
        finally:
            QLoggingCategory.setFilterRules(_QUIET_CATEGORIES)
        if outputs == 0:
            # Checked every time: a headset plugged in later brings sound back.
            self._fail(NO_DEVICE)
            return False
        self._problem = None
        return True

    def _effect(self, name: str) -> QSoundEffect | None:
        effect = self._effects.get(name)
        if effect is not None:
            return effect
        try:
            path = sound_path(name)
        except (ResourceMissing, ValueError) as exc:
            self._log_once(f"missing:{name}", "sound %s not played: %s", name, exc)
            return None
        from PySide6.QtMultimedia import QSoundEffect

        effect = QSoundEffect(self)
        effect.statusChanged.connect(partial(self._status_changed, name))
        effect.playingChanged.connect(partial(self._playing_changed, name))
        effect.setSource(QUrl.fromLocalFile(str(path)))
        self._effects[name] = effect
        return effect

    def _status_changed(self, name: str) -> None:
        from PySide6.QtMultimedia import QSoundEffect

        effect = self._effects.get(name)
        if effect is not None and effect.status() == QSoundEffect.Status.Error:
            self._log_once(
                f"error:{name}", "sound %s cannot be played on this audio output", name
            )

    def _playing_changed(self, name: str) -> None:
        effect = self._effects.get(name)
        if effect is not None and not effect.isPlaying():
            log.debug("sound %s finished", name)

    def _fail(self, reason: str) -> None:
        self._problem = reason
        self._log_once(reason, "notification sounds are off: %s", reason)

    def _log_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.info(message, *args)
