"""The tray app's dashboard, built the first time it is opened.

The window (its widgets, models and the QtCharts revenue chart) costs about
20 MiB of memory and is not needed to sit in the tray: most sessions never open
it. :class:`LazyDashboard` takes everything the app tells a dashboard while no
window exists — events, notices, connection statuses, the wallet — keeps only
what the window would show on opening (the latest status, when the connection
dropped), counts unread notices for the tray icon from the store, and hands over
to a real :class:`~app.ui.dashboard.window.DashboardWindow` on :meth:`open`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, Signal

from app.client.status import ConnectionState, ConnectionStatus
from app.domain.cache import CacheRegistry, Unregister
from app.domain.notices import Notice
from app.protocol.frames import EventFrame
from app.store import ClientStore, StoreError
from app.ui.dashboard.batching import UpdateBatcher

if TYPE_CHECKING:
    from app.ui.dashboard.window import DashboardWindow

log = logging.getLogger("seller_notifier.ui")

UNREAD_KEYS: Final = ("notifications",)
"""Cache keys whose invalidation can change the unread count (while no window exists)."""


def local_now() -> datetime:
    return datetime.now().astimezone()


class LazyDashboard(QObject):
    """Stands in for the dashboard window until it is first opened; then forwards to it.

    Same calls as the window for the app's wiring: :meth:`add_event`,
    :meth:`add_notice`, :meth:`update_status`, :meth:`set_wallet`,
    :meth:`refresh_unread`, :meth:`open`, :meth:`shutdown`, and the
    ``unread_changed(int)`` signal (counted from the store in batches while no
    window exists, by the window afterwards). :attr:`window` is the window once
    built (None before); :meth:`build` builds it without showing it.

    ``store``: None means the app has no event store; the window then keeps an
    in-memory one of its own, which must hear every event, so it is built at once.
    """

    unread_changed = Signal(int)

    def __init__(
        self,
        store: ClientStore | None,
        *,
        caches: CacheRegistry | None = None,
        state_file: Path | None = None,
        wallet: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._caches = caches
        self._state_file = state_file
        self._wallet = wallet
        self._window: DashboardWindow | None = None
        self._status: ConnectionStatus | None = None
        self._last_connected: ConnectionStatus | None = None
        self._stale_since: datetime | None = None
        self._unread = -1
        self._closed = False
        # Many events in a burst → one unread count per batch, as the hidden window did.
        self._batcher = UpdateBatcher[object](self._count_later, parent=self)
        self._unregister: list[Unregister] = []
        if caches is not None:
            for key in UNREAD_KEYS:
                self._unregister.append(caches.register(key, self._batcher.add))
        if store is None:
            self.build()

    @property
    def window(self) -> DashboardWindow | None:
        """The window, once built."""
        return self._window

    @property
    def store(self) -> ClientStore:
        """The store the dashboard reads (the window's own in-memory one without a store)."""
        if self._store is not None:
            return self._store
        return self.build().store

    def build(self) -> DashboardWindow:
        """The window, built now if it does not exist yet (not shown)."""
        if self._window is not None:
            return self._window
        # Imported here: the window's modules (QtCharts among them) load on first open.
        from app.ui.dashboard.window import DashboardWindow

        self._batcher.stop()
        for unregister in self._unregister:
            unregister()
        self._unregister.clear()
        window = DashboardWindow(
            self._store, caches=self._caches, state_file=self._state_file, wallet=self._wallet
        )
        self._window = window
        if self._status is not None:
            if self._stale_since is not None and self._last_connected is not None:
                # So the offline banner says since when, as if the window had seen it.
                window.update_status(self._last_connected)
                window.update_status(self._status, at=self._stale_since)
            else:
                window.update_status(self._status)
        window.unread_changed.connect(self._window_unread)
        window.refresh_unread()
        return window

    def open(self) -> None:
        """Show the window in front (building it the first time)."""
        if not self._closed:
            self.build().open()

    def add_event(self, frame: EventFrame) -> None:
        """A delivered event (already in the store)."""
        if self._window is not None:
            self._window.add_event(frame)
        else:
            self._batcher.add(frame)

    def add_notice(self, notice: Notice) -> None:
        """List one of the app's own notices (missed events …) in the activity."""
        if self._window is not None:
            self._window.add_notice(notice)
            return
        if self._store is None:
            return
        try:
            self._store.add_notice(notice)
        except StoreError as exc:
            log.error("could not keep the notice %r: %s", notice.title, exc)
            return
        self._batcher.add(notice)

    def update_status(self, status: ConnectionStatus) -> None:
        """A connection status from the client."""
        if self._window is not None:
            self._window.update_status(status)
            return
        previous = self._status
        self._status = status
        if status.state is ConnectionState.CONNECTED:
            self._last_connected = status
            self._stale_since = None
        elif previous is not None and previous.state is ConnectionState.CONNECTED:
            self._stale_since = local_now()  # live until this moment

    def set_wallet(self, wallet: str | None) -> None:
        """Show ``wallet``'s data (None: the wallet the store heard from last)."""
        if self._window is not None:
            self._window.set_wallet(wallet)
            return
        if wallet != self._wallet:
            self._wallet = wallet
            self.refresh_unread()

    def unread_count(self) -> int:
        return max(self._unread, 0)

    def refresh_unread(self) -> None:
        """Count unread notices; ``unread_changed`` is emitted when the count changed."""
        if self._window is not None:
            self._window.refresh_unread()
            return
        if self._store is None or self._closed:
            return
        try:
            count = self._store.unread_count(self._current_wallet())
        except StoreError as exc:
            log.error("could not count unread notices: %s", exc)
            count = 0
        self._set_unread(count)

    def shutdown(self) -> None:
        """Stop updates, remember the window's layout and close it (before deleting)."""
        self._closed = True
        self._batcher.stop()
        for unregister in self._unregister:
            unregister()
        self._unregister.clear()
        window = self._window
        if window is not None:
            window.unread_changed.disconnect(self._window_unread)
            window.shutdown()
            window.hide()
            window.deleteLater()

    # --- internals --------------------------------------------------------------------

    def _current_wallet(self) -> str | None:
        if self._wallet is not None or self._store is None:
            return self._wallet
        try:
            latest = self._store.latest_position()
        except StoreError:
            return None
        return latest[0] if latest else None

    def _count_later(self, _batch: list[object]) -> None:
        self.refresh_unread()

    def _window_unread(self, count: int) -> None:
        self._set_unread(count)

    def _set_unread(self, count: int) -> None:
        if count != self._unread:
            self._unread = count
            self.unread_changed.emit(count)
