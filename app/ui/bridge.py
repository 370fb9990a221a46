"""The one door between the asyncio client and the Qt side: client callbacks → Qt signals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from app.client.session import GapDetected
from app.client.status import ConnectionStatus
from app.protocol.frames import EventFrame
from app.ui.connections import disconnect_all

log = logging.getLogger("seller_notifier.ui")

Unsubscribe = Callable[[], object]


class ClientCallbacks(Protocol):
    """What the bridge needs from a client (``SellerClient`` provides it)."""

    def on(self, event_type: str, callback: Callable[[EventFrame], Any]) -> Unsubscribe: ...

    def on_status(self, callback: Callable[[ConnectionStatus], Any]) -> Unsubscribe: ...

    def on_gap(self, callback: Callable[[GapDetected], Any]) -> Unsubscribe: ...


class ClientBridge(QObject):
    """Re-emits a client's callbacks as Qt signals, on the thread that owns the bridge.

    ``event_received(EventFrame)`` for every delivered event (replayed or live),
    ``status_changed(ConnectionStatus)`` on every connection change and
    ``gap_detected(GapDetected)`` when the gateway no longer has events this
    device missed. Qt widgets connect here, never to the client.
    Call :meth:`close` before the client or the widgets go away.
    """

    event_received = Signal(object)
    status_changed = Signal(object)
    gap_detected = Signal(object)

    def __init__(self, client: ClientCallbacks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = False
        self._unsubscribers: list[Unsubscribe] = [
            client.on("*", self._on_event),
            client.on_status(self._on_status),
            client.on_gap(self._on_gap),
        ]

    def close(self) -> None:
        """Stop listening to the client and drop every Qt connection to this bridge."""
        if self._closed:
            return
        self._closed = True
        for unsubscribe in self._unsubscribers:
            try:
                unsubscribe()
            except Exception:  # one failing unsubscribe must not keep the others
                log.exception("could not unsubscribe from the client")
        self._unsubscribers.clear()
        disconnect_all(self.event_received, self.status_changed, self.gap_detected)

    def _on_event(self, frame: EventFrame) -> None:
        if not self._closed:
            self.event_received.emit(frame)

    def _on_status(self, status: ConnectionStatus) -> None:
        if not self._closed:
            self.status_changed.emit(status)

    def _on_gap(self, gap: GapDetected) -> None:
        if not self._closed:
            self.gap_detected.emit(gap)
