"""What the client tells the user interface about its connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.client.health import LinkQuality


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    """Not started yet."""
    CONNECTING = "connecting"
    """Opening the WebSocket."""
    AUTHENTICATING = "authenticating"
    """The WebSocket is open; waiting for the gateway to accept the token."""
    CONNECTED = "connected"
    """Authenticated: events arrive as they happen."""
    BACKING_OFF = "backing_off"
    """The last attempt failed or the link dropped; ``next_attempt_at`` says when it retries."""
    STOPPED = "stopped"
    """``stop()`` was called, or the token was refused (``reason`` says which)."""


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """A snapshot of the connection; a new one is published on every change
    (except of ``last_event_at`` alone)."""

    state: ConnectionState
    server: str
    """The gateway URL."""
    reason: str = ""
    """One sentence for people, e.g. ``gateway unreachable at ws://…: connection refused``."""
    next_attempt_at: datetime | None = None
    """When backing off: the time (UTC) of the next attempt."""
    wallet: str | None = None
    """The wallet the token authenticated as (checksummed), once known."""
    last_event_at: datetime | None = None
    """When (UTC, this machine's clock) the last event was received; kept up to date
    without publishing a status change for it."""
    latency: float | None = None
    """Round trip of the WebSocket pings (smoothed), in seconds; None before the first pong."""
    quality: LinkQuality | None = None
    """``good`` / ``degraded`` / ``poor`` from the round trips (an unanswered ping
    makes it ``poor`` early); None while not connected or before the first pong."""
    reconnects: int = 0
    """How many times the client has reconnected since ``run()`` started."""
