"""The tray icon: connection state at a glance, a tooltip with details, and the app's menu."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache, partial
from typing import Final

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.client.status import ConnectionState, ConnectionStatus
from app.domain.notices import short_hash
from app.ui.icons import svg_icon, svg_pixmap
from app.ui.startup_trace import mark

log = logging.getLogger("seller_notifier.ui")

APP_TITLE: Final = "Seller Notifier"

ICON_CONNECTED: Final = "tray-connected"
ICON_CONNECTING: Final = "tray-connecting"
ICON_OFFLINE: Final = "tray-offline"
ICON_PAUSED: Final = "tray-paused"

PAUSE_CHOICES: Final = {
    "hour": "For 1 hour",
    "tomorrow": "Until tomorrow morning",
    "indefinite": "Until I resume",
    "resume": "Resume notifications",
}
"""The "Pause notifications" submenu: what ``pause_requested`` carries → menu text."""

_STATE_ICONS: Final = {
    ConnectionState.CONNECTED: ICON_CONNECTED,
    ConnectionState.CONNECTING: ICON_CONNECTING,
    ConnectionState.AUTHENTICATING: ICON_CONNECTING,
    ConnectionState.BACKING_OFF: ICON_CONNECTING,
    ConnectionState.DISCONNECTED: ICON_OFFLINE,
    ConnectionState.STOPPED: ICON_OFFLINE,
}

_STATE_WORDS: Final = {
    ConnectionState.CONNECTED: "Connected",
    ConnectionState.CONNECTING: "Connecting…",
    ConnectionState.AUTHENTICATING: "Signing in…",
    ConnectionState.BACKING_OFF: "Reconnecting",
    ConnectionState.DISCONNECTED: "Offline",
    ConnectionState.STOPPED: "Stopped",
}


def icon_for(state: ConnectionState | None, *, paused: bool) -> str:
    """The tray icon name for a connection state (``paused`` wins over every state)."""
    if paused:
        return ICON_PAUSED
    return _STATE_ICONS.get(state, ICON_OFFLINE) if state is not None else ICON_OFFLINE


class TrayIcon(QSystemTrayIcon):
    """The system tray icon and its menu.

    Feed it :meth:`update_status` (every ``ConnectionStatus``), :meth:`note_event`,
    :meth:`set_paused` and :meth:`set_problem`; it sets its icon only when the icon actually changes
    (repeating ``setIcon`` leaks memory in some tray hosts) and keeps the tooltip
    current. The menu's actions come out as signals: ``open_dashboard_requested``,
    ``settings_requested``, ``pause_toggled(bool)``, ``pause_requested(str)`` (the
    submenu: 1 hour, until tomorrow, until resumed, resume), ``quit_requested``; a click
    on the icon also opens the dashboard.

    Where no system tray exists (offscreen, some Wayland desktops) it says so once
    in the log and stays hidden; the rest of the app works without it.
    """

    open_dashboard_requested = Signal()
    settings_requested = Signal()
    pause_toggled = Signal(bool)
    pause_requested = Signal(str)
    """A choice from the "Pause notifications" submenu: a key of ``PAUSE_CHOICES``."""
    quit_requested = Signal()

    def __init__(
        self,
        *,
        server: str | None = None,
        wallet: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._server = server
        self._wallet = wallet
        self._status: ConnectionStatus | None = None
        self._paused = False
        self._problem: str | None = None
        self._gap: str | None = None
        self._icon_name: str | None = None
        self._last_event_at: datetime | None = None
        self._unread = 0
        self._badge: str | None = None

        self._menu = QMenu()
        self._open_action = QAction("Open dashboard", self._menu)
        self._settings_action = QAction("Settings…", self._menu)
        self._pause_action = QAction("Pause notifications", self._menu)
        self._pause_action.setCheckable(True)
        self._paused_until: datetime | None = None
        self._pause_menu = self._build_pause_menu()
        self._quit_action = QAction("Quit", self._menu)
        self._menu.addAction(self._open_action)
        self._menu.addAction(self._settings_action)
        self._menu.addSeparator()
        self._menu.addAction(self._pause_action)
        self._menu.addSeparator()
        self._menu.addAction(self._quit_action)
        self._open_action.triggered.connect(self.open_dashboard_requested)
        self._settings_action.triggered.connect(self.settings_requested)
        self._pause_action.toggled.connect(self._on_pause_toggled)
        self._quit_action.triggered.connect(self.quit_requested)
        self.activated.connect(self._on_activated)
        self.setContextMenu(self._menu)

        self._refresh()

    # --- state in ------------------------------------------------------------------

    @property
    def icon_name(self) -> str | None:
        """The name of the icon currently shown (``tray-connected`` …)."""
        return self._icon_name

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def menu(self) -> QMenu:
        return self._menu

    def action(self, text: str) -> QAction:
        """The menu action whose text is ``text`` (tests and shortcuts use this)."""
        for candidate in self._menu.actions():
            if candidate.text() == text:
                return candidate
        raise KeyError(text)

    def start(self) -> bool:
        """Show the icon if the desktop has a tray; False (logged once) if it has none."""
        if not QSystemTrayIcon.isSystemTrayAvailable():
            log.info(
                "no system tray on this desktop: running without a tray icon "
                "(toasts still show; stop with Ctrl+C or SIGTERM)"
            )
            return False
        self.show()
        log.info("tray icon shown")
        mark("tray-icon-shown")
        return True

    def set_identity(self, *, server: str | None, wallet: str | None) -> None:
        """The server and wallet named in the tooltip."""
        self._server, self._wallet = server, wallet
        self._refresh()

    def update_status(self, status: ConnectionStatus) -> None:
        """A new connection status from the client."""
        self._status = status
        if status.state is ConnectionState.CONNECTED:
            self._problem = None
        self._refresh()

    def note_event(self, at: datetime | None = None) -> None:
        """An event arrived (now, or ``at``): the tooltip's "Last event" time.

        The client does not publish a status per event, so the tray is told."""
        self._last_event_at = at if at is not None else datetime.now(UTC)
        self._refresh()

    def set_paused(self, paused: bool, until: datetime | None = None) -> None:
        """Show the paused icon and tick the menu entry (without re-emitting);
        ``until`` (a timed pause) is named in the tooltip."""
        if self._pause_action.isChecked() != paused:
            self._pause_action.blockSignals(True)
            self._pause_action.setChecked(paused)
            self._pause_action.blockSignals(False)
        self._paused = paused
        self._paused_until = until if paused else None
        self._pause_menu.actions()[-1].setEnabled(paused)
        self._refresh()

    def _build_pause_menu(self) -> QMenu:
        # A submenu on the checkable entry: the tick shows the state, the
        # submenu offers how long; triggering the entry itself pauses until resumed.
        menu = QMenu(self._menu)
        for choice, text in PAUSE_CHOICES.items():
            if choice == "resume":
                menu.addSeparator()
            action = menu.addAction(text)
            action.triggered.connect(partial(self.pause_requested.emit, choice))
        menu.actions()[-1].setEnabled(False)
        self._pause_action.setMenu(menu)
        return menu

    def set_unread(self, count: int) -> None:
        """How many notices the seller has not read: a badge on the icon, a tooltip line."""
        self._unread = max(count, 0)
        self._refresh()

    @property
    def unread(self) -> int:
        return self._unread

    def set_problem(self, problem: str | None) -> None:
        """A sentence for the tooltip that outranks the connection's own reason
        (e.g. "not configured yet", "the server refused this device's token")."""
        self._problem = problem
        self._refresh()

    def set_gap(self, gap: str | None) -> None:
        """A standing line about events that will never arrive (a gap the gateway
        reported), kept until cleared: a lost event must never go unnoticed."""
        self._gap = gap
        self._refresh()

    def tooltip_text(self) -> str:
        """What the tooltip says now."""
        status = self._status
        state = _STATE_WORDS.get(status.state, str(status.state)) if status else "Offline"
        if self._paused:
            state += " · notifications paused"
            if self._paused_until is not None and self._paused_until.year < 9999:
                state += f" until {_clock(self._paused_until)}"
        lines = [f"{APP_TITLE} — {state}"]
        # When all is well the client's reason ("connected as …") adds nothing.
        healthy = status is not None and status.state is ConnectionState.CONNECTED
        reason = self._problem or (status.reason if status and not healthy else "")
        if status and status.state is ConnectionState.BACKING_OFF and status.next_attempt_at:
            when = status.next_attempt_at.astimezone().strftime("%H:%M:%S")
            reason = f"{reason} (next try at {when})" if reason else f"next try at {when}"
        if reason:
            lines.append(reason)
        if healthy and status is not None and status.quality is not None:
            link = f"Link: {status.quality}"
            if status.latency is not None:
                link += f" (round trip {status.latency * 1000:.0f} ms)"
            lines.append(link)
        if self._gap:
            lines.append(f"⚠ {self._gap}")
        server = (status.server if status else None) or self._server
        if server:
            lines.append(f"Server: {server}")
        wallet = (status.wallet if status else None) or self._wallet
        if wallet:
            lines.append(f"Wallet: {short_hash(wallet)}")
        known = [t for t in (self._last_event_at, status and status.last_event_at) if t]
        last = max(known) if known else None
        lines.append(f"Last event: {_clock(last) if last else 'none yet'}")
        if self._unread:
            lines.append(f"{self._unread:,} unread notice{'s' if self._unread != 1 else ''}")
        return "\n".join(lines)

    # --- internals ----------------------------------------------------------------

    def _refresh(self) -> None:
        name = icon_for(self._status.state if self._status else None, paused=self._paused)
        badge = unread_badge(self._unread)
        if name != self._icon_name or badge != self._badge:
            self._icon_name, self._badge = name, badge
            self.setIcon(badged_icon(name, badge) if badge else svg_icon(name))
        tooltip = self.tooltip_text()
        if tooltip != self.toolTip():
            self.setToolTip(tooltip)

    def _on_pause_toggled(self, checked: bool) -> None:
        self._paused = checked
        self._refresh()
        self.pause_toggled.emit(checked)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_dashboard_requested.emit()


def unread_badge(count: int) -> str | None:
    """The text of the unread badge: ``"7"``, ``"99+"``; None for no badge."""
    if count <= 0:
        return None
    return str(count) if count < 100 else "99+"


@cache
def badged_icon(name: str, badge: str) -> QIcon:
    """``name``'s icon with ``badge`` in a red disc in its top-right corner, every size."""
    icon = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        pixmap = QPixmap(svg_pixmap(name, size))
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            diameter = max(9, size * 5 // 8) if len(badge) == 1 else max(10, size * 3 // 4)
            disc = QRectF(size - diameter, 0, diameter, diameter * (0.9 if len(badge) > 1 else 1))
            painter.setPen(QPen(QColor("#ffffff"), max(1.0, size / 24)))
            painter.setBrush(QColor("#e0352b"))
            painter.drawEllipse(disc)
            font = QFont()
            font.setBold(True)
            font.setPixelSize(max(6, int(disc.height() * (0.62 if len(badge) < 3 else 0.45))))
            painter.setFont(font)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(disc, Qt.AlignmentFlag.AlignCenter, badge)
        finally:
            painter.end()
        icon.addPixmap(pixmap)
    return icon


def _clock(moment: datetime) -> str:
    local = moment.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M")
