"""The settings in force, and the one signal that says which of them changed.

Modelled on qutebrowser's ``Config.changed``: every part of the app that depends
on a setting connects to :attr:`SettingsStore.changed` and reacts to the dotted
keys it cares about (``notifications.position``, ``connection.server_url`` …),
so a change made in the settings dialog (or the tray menu's Pause) applies at
once, without a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QObject, Signal

from app.config.settings import Settings, load_settings, save_settings

log = logging.getLogger("seller_notifier.ui")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` (lists are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def with_value(settings: Settings, key: str, value: Any) -> Settings:
    """``settings`` with the dotted ``key`` set to ``value``, validated.

    Raises ``pydantic.ValidationError`` (its locations are the dotted key's parts)
    and ``KeyError`` for a key the model does not have.
    """
    data = settings.model_dump(mode="json")
    *sections, leaf = key.split(".")
    node = data
    for section in sections:
        child = node.get(section)
        if not isinstance(child, dict):
            raise KeyError(key)
        node = child
    if leaf not in node:
        raise KeyError(key)
    node[leaf] = value
    return Settings.model_validate(data)


class SettingsStore(QObject):
    """Holds the current :class:`Settings`; saves each change to ``path`` and emits
    ``changed(key)`` once per dotted key whose value changed.

    ``save_failed(str)`` carries a one-line reason when the file could not be
    written (the new settings still apply for this session).
    """

    changed = Signal(str)
    save_failed = Signal(str)

    def __init__(
        self, path: Path, settings: Settings | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._path = path
        self._settings = settings if settings is not None else Settings()

    @classmethod
    def load(cls, path: Path, parent: QObject | None = None) -> tuple[SettingsStore, str | None]:
        """The store for ``path`` and, if the file was damaged and put aside, the notice."""
        loaded = load_settings(path)
        return cls(path, loaded.settings, parent), loaded.notice

    @property
    def path(self) -> Path:
        return self._path

    @property
    def settings(self) -> Settings:
        return self._settings

    def value(self, key: str) -> Any:
        """The current value of dotted ``key`` (JSON form: times and amounts as text)."""
        return flatten(self._settings.model_dump(mode="json"))[key]

    def set(self, key: str, value: Any) -> list[str]:
        """Validate and apply one change; returns the keys that changed.

        Raises ``pydantic.ValidationError`` when the value is refused (nothing changes).
        """
        return self.update(with_value(self._settings, key, value))

    def update(self, settings: Settings) -> list[str]:
        """Make ``settings`` current, save them, and emit ``changed`` for each changed key."""
        before = flatten(self._settings.model_dump(mode="json"))
        after = flatten(settings.model_dump(mode="json"))
        keys = [key for key in after if before.get(key) != after[key]]
        if not keys:
            return []
        self._settings = settings
        try:
            save_settings(settings, self._path)
        except OSError as exc:
            message = f"Could not save the settings to {self._path} ({exc.strerror or exc})"
            log.error("%s", message)
            self.save_failed.emit(message)
        for key in keys:
            log.debug("setting %s changed", key)
            self.changed.emit(key)
        return keys

    def touch(self, key: str) -> None:
        """Announce a change kept outside the settings file (``connection.token``)."""
        self.changed.emit(key)


def error_messages(exc: ValidationError) -> dict[str, str]:
    """Dotted key → the first message pydantic gave for it (``Value error, `` dropped)."""
    messages: dict[str, str] = {}
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        messages.setdefault(key, message)
    return messages
