"""How values are written in the store's columns: times as integer microseconds since
the Unix epoch (UTC), money as exact decimal text, event frames as their JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Final

from pydantic import ValidationError

from app.protocol import EventFrame, UnknownEvent

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def microseconds(moment: datetime) -> int:
    """``moment`` as microseconds since the epoch; a naive time is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=8192)
def from_microseconds(value: int) -> datetime:
    """The UTC time ``value`` microseconds after the epoch."""
    # Cached: an order's times repeat (placed, first seen, updated), and reading
    # 10,000 orders is the dashboard's opening time.
    return _EPOCH + timedelta(microseconds=value)


def decimal_text(amount: Decimal) -> str:
    """Exact text for ``amount`` (never exponent notation, never through a float)."""
    return format(amount, "f")


def load_frame(text: str) -> EventFrame:
    """A stored frame read back; raises ``ValueError`` when it no longer parses."""
    try:
        return EventFrame.model_validate_json(text)
    except ValidationError:
        # A known type this version could not read when it arrived was kept as an
        # UnknownEvent (see ClientSession); it is read back the same way.
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("event"), dict):
            raise
        return EventFrame.model_validate(
            {**raw, "event": UnknownEvent.model_validate(raw["event"])}
        )
