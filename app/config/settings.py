"""The tray app's settings: one pydantic model, validated, saved as JSON.

A damaged settings file is never fatal: it is renamed aside (kept for the
user) and defaults are used, with a notice the app shows.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.protocol.codec import describe_error
from app.protocol.wallet import WalletAddress

log = logging.getLogger("seller_notifier.config")

Corner = Literal["top-right", "top-left", "bottom-right", "bottom-left"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True, frozen=True)


class ConnectionSettings(_Section):
    server_url: str | None = None
    """``ws://`` or ``wss://`` URL of the gateway."""
    wallet: WalletAddress | None = None
    """The seller's wallet. Its device token is kept in the OS keyring, not here."""

    @field_validator("server_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("expected ws://HOST:PORT or wss://HOST")
        return value.strip()


class NotificationSettings(_Section):
    position: Corner = "top-right"
    max_visible: Annotated[int, Field(ge=1, le=10)] = 4
    auto_hide_seconds: Annotated[float, Field(ge=1, le=600)] = 6.0
    sound_enabled: bool = True
    paused_until: datetime | None = None


class Settings(_Section):
    connection: ConnectionSettings = ConnectionSettings()
    notifications: NotificationSettings = NotificationSettings()
    debug: bool = False

    @property
    def is_configured(self) -> bool:
        return bool(self.connection.server_url and self.connection.wallet)


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    notice: str | None = None
    """Set when the file was damaged and put aside: show it to the user."""


def load_settings(path: Path) -> LoadedSettings:
    """Read the settings file; missing → defaults; damaged → renamed aside + notice."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedSettings(Settings())
    except OSError as exc:
        notice = f"Could not read {path} ({exc.strerror}); using defaults."
        return LoadedSettings(Settings(), notice)
    try:
        return LoadedSettings(Settings.model_validate(json.loads(text)))
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at line {exc.lineno})"
    except ValidationError as exc:
        reason = describe_error(exc)
    aside = _put_aside(path)
    notice = f"Settings file was damaged: {reason}. Kept it as {aside.name} and used defaults."
    log.warning(notice)
    return LoadedSettings(Settings(), notice)


def save_settings(settings: Settings, path: Path) -> None:
    """Write atomically (a crash mid-write never leaves a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.model_dump_json(indent=2, exclude_none=True)
    fd, temp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _put_aside(path: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    counter = 1
    while aside.exists():
        aside = path.with_name(f"{path.stem}.damaged-{stamp}-{counter}{path.suffix}")
        counter += 1
    path.rename(aside)
    return aside
