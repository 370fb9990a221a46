"""The tray app's settings: one pydantic model, validated, saved as JSON.

A damaged settings file is never fatal: it is renamed aside (kept for the
user) and defaults are used, with a notice the app shows.
"""

from __future__ import annotations

import json
import logging
import os
import string
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from app.protocol.codec import describe_error
from app.protocol.wallet import WalletAddress

log = logging.getLogger("seller_notifier.config")

Corner = Literal["top-right", "top-left", "bottom-right", "bottom-left"]
PriorityName = Literal["low", "normal", "high", "urgent"]
"""``app.domain.notices.Priority`` values (config does not import the domain)."""
AdapterName = Literal["in-app", "native", "tray"]
"""How notifications are shown: the app's own toasts, the desktop's notifications,
or the tray icon's balloon. An unavailable choice falls back to the next one."""
SoundChoice = Literal["off", "new-order", "payment", "review", "tier-upgrade"]
"""A bundled sound (``resources/sounds/<name>.wav``) or ``off``."""
Weekday = Annotated[int, Field(ge=0, le=6)]
"""0 = Monday … 6 = Sunday (``datetime.weekday()``)."""

PAUSED_INDEFINITELY: Final = datetime(9999, 12, 31, tzinfo=UTC)
"""``notifications.paused_until`` for "paused until I resume"."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True, frozen=True)


class ConnectionSettings(_Section):
    server_url: str | None = None
    """``ws://`` or ``wss://`` URL of the gateway."""
    wallet: WalletAddress | None = None
    """The seller's wallet. Its device token is kept in the OS keyring, not here."""
    allow_insecure: bool = False
    """Accept ``ws://`` to another machine (the token then crosses the network unencrypted)."""

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


class EventTypeSwitches(_Section):
    """Which event types notify at all; every event is still recorded in the history."""

    new_order: bool = True
    order_status_changed: bool = True
    payment_received: bool = True
    review_received: bool = True
    tier_upgraded: bool = True
    analytics_update: bool = True
    other: bool = True
    """Event types this version does not know yet."""


class SoundSettings(_Section):
    """Which sound each event type plays (``off``: none), and how loud (0–100)."""

    volume: Annotated[int, Field(ge=0, le=100)] = 80
    new_order: SoundChoice = "new-order"
    payment_received: SoundChoice = "payment"
    review_received: SoundChoice = "review"
    tier_upgraded: SoundChoice = "tier-upgrade"


class QuietHours(_Section):
    """From ``start`` to ``end`` (local time; may span midnight) on ``days`` only urgent
    notices show. A window that spans midnight belongs to the day it starts on."""

    enabled: bool = False
    start: time = time(22, 0)
    end: time = time(7, 0)
    days: tuple[Weekday, ...] = (0, 1, 2, 3, 4, 5, 6)

    @field_validator("days")
    @classmethod
    def _sorted_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(value)))

    @field_validator("end")
    @classmethod
    def _not_empty(cls, value: time, info: ValidationInfo) -> time:
        if info.data.get("start") == value:
            raise ValueError("quiet hours must end at another time than they start")
        return value


class NotificationSettings(_Section):
    position: Corner = "top-right"
    max_visible: Annotated[int, Field(ge=1, le=10)] = 4
    auto_hide_seconds: Annotated[float, Field(ge=1, le=600)] = 6.0
    sound_enabled: bool = True
    paused_until: datetime | None = None
    """Notifications are paused until then (``PAUSED_INDEFINITELY``: until resumed)."""
    adapter: AdapterName = "in-app"
    screen: str | None = None
    """Name of the screen in-app toasts use (``QScreen.name()``); None: the primary one."""
    auto_hide: bool = True
    """False: toasts stay until dismissed (urgent ones always do)."""
    types: EventTypeSwitches = EventTypeSwitches()
    min_priority: PriorityName = "low"
    min_order_amount: Annotated[Decimal, Field(ge=0, max_digits=30)] | None = None
    """Orders and payments below this amount (in any currency) do not notify."""
    quiet_hours: QuietHours = QuietHours()
    sounds: SoundSettings = SoundSettings()
    order_url_template: str | None = None
    """Where clicking a notice about an order goes, e.g.
    ``https://market.example/orders/{orderId}``; None: the dashboard."""

    @field_validator("order_url_template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError:
            raise ValueError("unbalanced { or } in the address") from None
        if fields != {"orderId"}:
            raise ValueError(
                "put {orderId} where the order number goes, "
                "e.g. https://market.example/orders/{orderId}"
            )
        parts = urlsplit(value.format(orderId="1"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an address starting with https:// or http://")
        return value


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
