"""The connection strip at the bottom of the dashboard, and the offline banner at its top."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from app.client.status import ConnectionState, ConnectionStatus
from app.ui.dashboard.times import clock, short_time

STATE_WORDS: Final = {
    ConnectionState.CONNECTED: "Connected",
    ConnectionState.CONNECTING: "Connecting…",
    ConnectionState.AUTHENTICATING: "Signing in…",
    ConnectionState.BACKING_OFF: "Reconnecting",
    ConnectionState.DISCONNECTED: "Offline",
    ConnectionState.STOPPED: "Stopped",
}
STATE_COLOURS: Final = {
    ConnectionState.CONNECTED: "#2e9d52",
    ConnectionState.CONNECTING: "#f0a020",
    ConnectionState.AUTHENTICATING: "#f0a020",
    ConnectionState.BACKING_OFF: "#f0a020",
    ConnectionState.DISCONNECTED: "#8a8f98",
    ConnectionState.STOPPED: "#d0452f",
}


def _field(text: str, name: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setAccessibleName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ConnectionPanel(QFrame):
    """State (with a coloured dot), latency, last event time, reconnect count and server."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionPanel")
        self.setAccessibleName("Connection")
        self._status: ConnectionStatus | None = None
        self._last_event: datetime | None = None
        self.dot = QLabel("●", self)
        self.dot.setAccessibleName("Connection state colour")
        self.state = _field("Offline", "Connection state", self)
        self.latency = _field("", "Latency", self)
        self.last_event = _field("", "Last event", self)
        self.reconnects = _field("", "Reconnects", self)
        self.server = _field("", "Server", self)
        self.server.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(14)
        layout.addWidget(self.dot)
        layout.addWidget(self.state)
        for label in (self.latency, self.last_event, self.reconnects):
            layout.addWidget(label)
        layout.addStretch(1)
        layout.addWidget(self.server)
        self._refresh()

    def update_status(self, status: ConnectionStatus) -> None:
        self._status = status
        self._refresh()

    def note_event(self, at: datetime) -> None:
        self._last_event = at
        self._refresh()

    def text(self) -> str:
        """Everything the strip says, as one line (what a person reads)."""
        parts = [self.state.text(), self.latency.text(), self.last_event.text()]
        parts += [self.reconnects.text(), self.server.text()]
        return " · ".join(part for part in parts if part)

    def _refresh(self) -> None:
        status = self._status
        state = status.state if status else ConnectionState.DISCONNECTED
        words = STATE_WORDS.get(state, str(state))
        if status is not None and state is ConnectionState.BACKING_OFF and status.next_attempt_at:
            words += f" (next try {clock(status.next_attempt_at)})"
        self.state.setText(words)
        self.state.setToolTip(status.reason if status else "Not connected")
        self.dot.setStyleSheet(f"color: {STATE_COLOURS.get(state, '#8a8f98')};")
        latency = status.latency if status else None
        self.latency.setText(
            f"Latency {latency * 1000:.0f} ms" if latency is not None else "Latency —"
        )
        known = [t for t in (self._last_event, status.last_event_at if status else None) if t]
        last = max(known) if known else None
        self.last_event.setText(f"Last event {clock(last)}" if last else "No events yet")
        count = status.reconnects if status else 0
        self.reconnects.setText(f"{count} reconnect{'s' if count != 1 else ''}")
        server = status.server if status else ""
        self.server.setText(server)
        self.server.setToolTip(f"Gateway: {server}" if server else "No server configured")
        self.setAccessibleDescription(self.text())


BANNER_STYLE: Final = """
QFrame#staleBanner {
    background: #f6d889;
    border: 1px solid #d9a928;
    border-radius: 6px;
}
QFrame#staleBanner QLabel { color: #3a2a00; }
"""
"""Amber with dark text: readable in light and dark themes alike."""


class StaleBanner(QFrame):
    """ "Offline — showing saved data, stale since 14:32": hidden while connected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("staleBanner")
        self.setAccessibleName("Offline notice")
        self.setStyleSheet(BANNER_STYLE)
        self.label = QLabel("", self)
        self.label.setAccessibleName("Offline notice text")
        self.label.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        self.hide()

    def show_stale(self, since: datetime | None, reason: str = "") -> None:
        """Say the data is from ``since`` (None: nothing was ever received) and why."""
        if since is None:
            text = "Offline — no data received yet."
        else:
            text = f"Offline — showing saved data, stale since {short_time(since)}."
        if reason:
            text += f" {reason[:1].upper()}{reason[1:]}"
        self.label.setText(text)
        self.setAccessibleDescription(text)
        self.show()

    def text(self) -> str:
        """What the banner says; empty while it is hidden."""
        return "" if self.isHidden() else self.label.text()
