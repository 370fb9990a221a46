"""Builders for the Qt face's tests: event frames, notices and a fake client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.client.status import ConnectionStatus
from app.domain.notices import Notice, Priority
from app.protocol.frames import EventFrame

BASE_TIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def order_frame(wallet: str, seq: int, order_id: str | None = None) -> EventFrame:
    """A new-order event frame with a distinct order number and time per seq."""
    return EventFrame.model_validate(
        {
            "wallet": wallet,
            "seq": seq,
            "id": f"evt-{seq}",
            "ts": (BASE_TIME + timedelta(seconds=seq)).isoformat(),
            "event": {
                "type": "new_order",
                "orderId": order_id or f"A{seq}",
                "total": "12.50",
                "currency": "USDC",
                "items": [{"name": "Mug", "quantity": 1, "unitPrice": "12.50"}],
            },
        }
    )


def notice(title: str, priority: Priority = Priority.NORMAL, body: str = "body") -> Notice:
    return Notice(
        title=title, body=body, priority=priority, kind="new_order", icon="event-new-order"
    )


class FakeClient:
    """Stands in for SellerClient's callback API where no connection is wanted."""

    def __init__(self) -> None:
        self.event_callbacks: list[Callable[[EventFrame], Any]] = []
        self.status_callbacks: list[Callable[[ConnectionStatus], Any]] = []
        self.gap_callbacks: list[Callable[[Any], Any]] = []

    def on(self, event_type: str, callback: Callable[[EventFrame], Any]) -> Callable[[], None]:
        assert event_type == "*"
        self.event_callbacks.append(callback)
        return lambda: self.event_callbacks.remove(callback)

    def on_status(self, callback: Callable[[ConnectionStatus], Any]) -> Callable[[], None]:
        self.status_callbacks.append(callback)
        return lambda: self.status_callbacks.remove(callback)

    def on_gap(self, callback: Callable[[Any], Any]) -> Callable[[], None]:
        self.gap_callbacks.append(callback)
        return lambda: self.gap_callbacks.remove(callback)

    def deliver(self, frame: EventFrame) -> None:
        for callback in list(self.event_callbacks):
            callback(frame)

    def publish_status(self, status: ConnectionStatus) -> None:
        for callback in list(self.status_callbacks):
            callback(status)
