"""The running tray app: builds the Qt parts, connects them to a client, and takes them down.

:class:`TrayApp` lives inside the asyncio (qasync) loop that
:mod:`app.ui.application` starts; ``await TrayApp(...).run()`` returns 0 once
Quit, SIGINT or SIGTERM asked it to stop and everything is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, Final, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from app.client import AuthRefused, SellerClient
from app.config.credentials import load_token
from app.config.paths import AppPaths
from app.config.settings import Settings, load_settings
from app.domain.notices import Notice, Priority, app_notice, short_hash
from app.gateway.demo import DemoGateway
from app.protocol.frames import EventFrame
from app.store.events import ClientStore, StoreError
from app.ui.bridge import ClientBridge
from app.ui.connections import disconnect_all
from app.ui.dashboard import DashboardWindow
from app.ui.notifier import Notifier
from app.ui.settings_dialog import SettingsDialog
from app.ui.single_instance import SingleInstance
from app.ui.toasts import ToastManager
from app.ui.tray import TrayIcon

log = logging.getLogger("seller_notifier.ui")

DEMO_RATE: Final = 0.5
"""Simulated events per second in ``--demo``: lively, not a flood."""
STEP_TIMEOUT: Final = 5.0
"""Seconds each shutdown step (client, demo gateway) may take before it is abandoned."""
NOT_CONFIGURED: Final = "Not configured yet — open Settings, or run seller-notifier --demo"
_HANDLED_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class SignalSource(Protocol):
    """Remembers the name of a signal received before the app could handle it."""

    received: str | None


class TrayApp(QObject):
    """Tray icon, toasts, dashboard and one client connection, wired together.

    ``demo``: run an embedded demo gateway in this process and connect to it;
    otherwise connect with the saved settings and the wallet's stored token (or
    say what is missing and wait in the tray). ``instance``: a launch of a second
    copy shows the dashboard. ``early_signal``: where a SIGINT/SIGTERM that came
    before :meth:`run` installed its handlers was noted (it then quits at once).

    ``ready`` is emitted once the tray, toasts, dashboard and notifier exist
    (attributes ``tray``, ``toasts``, ``dashboard``, ``notifier``).
    """

    ready = Signal()

    def __init__(
        self,
        paths: AppPaths,
        *,
        demo: bool,
        instance: SingleInstance | None = None,
        early_signal: SignalSource | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._early_signal = early_signal
        self._paths = paths
        self._demo = demo
        self._instance = instance
        self._resources = contextlib.AsyncExitStack()
        self._store: ClientStore | None = None
        self._store_problem: str | None = None
        self._client: SellerClient | None = None
        self._client_task: asyncio.Task[None] | None = None
        self._bridge: ClientBridge | None = None
        self._quit: asyncio.Future[None] | None = None
        self._closing = False
        self._settings_dialog: SettingsDialog | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._signal_timer: QTimer | None = None

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> int:
        """Run until :meth:`request_quit` (menu, SIGINT, SIGTERM); then close everything."""
        loop = asyncio.get_running_loop()
        self._quit = loop.create_future()
        self._install_signal_handlers(loop)
        if self._early_signal is not None and self._early_signal.received:
            self.request_quit(self._early_signal.received)
        loaded = load_settings(self._paths.settings_file)
        self._open_store()
        self._build_ui(loaded.settings)
        self.ready.emit()
        if loaded.notice:
            self.notifier.notify(app_notice("Settings reset", loaded.notice, Priority.HIGH))
        connecting = asyncio.create_task(self._connect(loaded.settings), name="tray-connect")
        try:
            await asyncio.wait({connecting, self._quit}, return_when=asyncio.FIRST_COMPLETED)
            await self._quit
        finally:
            if not connecting.done():
                connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            await self._shutdown(loop)
        return 0

    def request_quit(self, reason: str = "quit") -> None:
        """Ask the app to close down (idempotent; call it on the event loop's thread)."""
        if self._quit is not None and not self._quit.done():
            log.info("shutting down (%s)", reason)
            self._quit.set_result(None)

    # --- building -------------------------------------------------------------------

    def _open_store(self) -> None:
        try:
            self._store = ClientStore(self._paths.client_db)
        except StoreError as exc:
            # Still useful without history: events are shown, just not kept.
            log.error("%s", exc)
            self._store_problem = str(exc)

    def _build_ui(self, settings: Settings) -> None:
        notifications = settings.notifications
        self.toasts = ToastManager(
            position=notifications.position,
            max_visible=notifications.max_visible,
            auto_hide_seconds=notifications.auto_hide_seconds,
        )
        self.dashboard = DashboardWindow(self._recent_events)
        self.notifier = Notifier(self.toasts, self.dashboard)
        self.tray = TrayIcon(
            server=settings.connection.server_url, wallet=settings.connection.wallet
        )
        self.tray.open_dashboard_requested.connect(self.dashboard.open)
        self.tray.settings_requested.connect(self._open_settings)
        self.tray.pause_toggled.connect(self.notifier.set_paused)
        self.tray.quit_requested.connect(self._quit_from_menu)
        self.toasts.activated.connect(self._open_dashboard_for)
        if self._instance is not None:
            self._instance.raise_requested.connect(self._raise_requested)
        self.tray.start()
        if self._store_problem:
            self.notifier.notify(
                app_notice("Event history unavailable", self._store_problem, Priority.HIGH)
            )

    def _recent_events(self, limit: int) -> list[EventFrame]:
        return self._store.recent(limit) if self._store is not None else []

    # --- connecting -----------------------------------------------------------------

    async def _connect(self, settings: Settings) -> None:
        try:
            if self._demo:
                demo = await self._resources.enter_async_context(
                    DemoGateway(self._paths.gateway_dir, rate=DEMO_RATE)
                )
                since = self._store.last_seq(demo.wallet) if self._store else None
                # A fresh demo home replays the demo's whole story, so toasts come at once.
                self._start_client(demo.url, demo.token, demo.wallet, 0 if since is None else since)
                return
            url, wallet = settings.connection.server_url, settings.connection.wallet
            if not url or not wallet:
                self._explain(
                    NOT_CONFIGURED,
                    app_notice(
                        "Not configured yet",
                        "Open Settings to connect to your marketplace, "
                        "or run seller-notifier --demo to try it out.",
                        Priority.HIGH,
                    ),
                )
                return
            token = load_token(wallet)
            if not token:
                self._explain(
                    f"No device token for {short_hash(wallet)}",
                    app_notice(
                        "No device token",
                        f"No token is stored for wallet {short_hash(wallet)}. Add it in "
                        "Settings or set SELLER_NOTIFIER_TOKEN.",
                        Priority.HIGH,
                    ),
                )
                return
            since = self._store.last_seq(wallet) if self._store else None
            self._start_client(url, token, wallet, since)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the tray stays up to say what went wrong
            log.exception("could not start the connection")
            self._explain(
                f"Could not start: {exc}",
                app_notice("Could not connect", str(exc), Priority.HIGH),
            )

    def _start_client(self, url: str, token: str, wallet: str, since: int | None) -> None:
        client = SellerClient(url, token, store=self._store, since=since, wallet=wallet)
        self._client = client
        self._bridge = ClientBridge(client)
        self._bridge.event_received.connect(self.notifier.present_event)
        self._bridge.event_received.connect(self._note_event)
        self._bridge.status_changed.connect(self.tray.update_status)
        self._bridge.gap_detected.connect(self.notifier.present_gap)
        self.tray.set_identity(server=url, wallet=wallet)
        log.info("connecting to %s as %s (since=%s)", url, wallet, since)
        self._client_task = asyncio.create_task(client.run(), name="seller-client")
        self._client_task.add_done_callback(self._client_finished)

    def _note_event(self, _frame: EventFrame) -> None:
        self.tray.note_event()

    def _client_finished(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._closing:
            return
        error = task.exception()
        if error is None:
            return
        if isinstance(error, AuthRefused):
            log.error("the gateway refused this device: %s", error)
            self._explain(
                f"Sign-in refused: {error}",
                app_notice("The server refused this device", str(error), Priority.URGENT),
            )
        else:
            log.error("the connection stopped", exc_info=error)
            self._explain(
                f"Connection stopped: {error}",
                app_notice("Connection stopped", str(error), Priority.HIGH),
            )

    def _explain(self, problem: str, notice: Notice) -> None:
        self.tray.set_problem(problem)
        self.notifier.notify(notice, even_if_paused=True)

    # --- menu actions ---------------------------------------------------------------

    def _open_settings(self) -> None:
        if self._settings_dialog is None:
            self._settings_dialog = SettingsDialog(self._paths.settings_file)
        self._settings_dialog.show()
        self._settings_dialog.raise_()
        self._settings_dialog.activateWindow()

    def _open_dashboard_for(self, _notice: object) -> None:
        self.dashboard.open()

    def _raise_requested(self) -> None:
        log.info("another launch asked to show the dashboard")
        self.dashboard.open()

    def _quit_from_menu(self) -> None:
        self.request_quit("Quit chosen in the menu")

    # --- signals --------------------------------------------------------------------

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in _HANDLED_SIGNALS:
            self._previous_handlers[sig] = signal.getsignal(sig)
            try:
                # The loop's self-pipe is watched by a QSocketNotifier, so the
                # signal wakes the Qt event loop at once: no polling timer needed.
                loop.add_signal_handler(sig, self.request_quit, sig.name)
            except (NotImplementedError, RuntimeError):
                self._install_fallback_handler(loop, sig)

    def _install_fallback_handler(self, loop: asyncio.AbstractEventLoop, sig: int) -> None:
        # Windows: no add_signal_handler. Python runs signal handlers only between
        # bytecodes, so a timer gives the interpreter a turn while Qt waits.
        name = signal.Signals(sig).name

        def handler(signum: int, frame: object) -> None:
            loop.call_soon_threadsafe(self.request_quit, name)

        signal.signal(sig, handler)
        if self._signal_timer is None:
            self._signal_timer = QTimer(self)
            self._signal_timer.timeout.connect(_noop)
            self._signal_timer.start(250)

    def _restore_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig, previous in self._previous_handlers.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
            # Put back what was there (the caller's latch), not SIG_DFL, so a
            # late signal during teardown cannot kill the process.
            if previous is not None:
                signal.signal(sig, previous)
        self._previous_handlers.clear()
        if self._signal_timer is not None:
            self._signal_timer.stop()
            disconnect_all(self._signal_timer.timeout)

    # --- shutdown -------------------------------------------------------------------

    async def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        self._closing = True
        if self._bridge is not None:
            self._bridge.close()  # no more events into widgets that are going away
        await self._stop_client()
        try:
            await asyncio.wait_for(self._resources.aclose(), STEP_TIMEOUT)
        except Exception:
            log.exception("the demo gateway did not close cleanly")
        if self._store is not None:
            self._store.close()
        self._close_ui()
        self._restore_signal_handlers(loop)

    async def _stop_client(self) -> None:
        client, task = self._client, self._client_task
        if client is None or task is None:
            return
        try:
            await asyncio.wait_for(client.stop(), STEP_TIMEOUT)
        except Exception:
            log.exception("the client did not stop cleanly")
        if not task.done():
            task.cancel()
        results = await asyncio.gather(task, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(
                result, asyncio.CancelledError | AuthRefused
            ):
                log.warning("the client ended with %r", result)

    def _close_ui(self) -> None:
        tray, toasts, dashboard = self.tray, self.toasts, self.dashboard
        disconnect_all(
            self.ready,
            tray.open_dashboard_requested,
            tray.settings_requested,
            tray.pause_toggled,
            tray.quit_requested,
            tray.activated,
            toasts.activated,
            toasts.shown,
            toasts.hidden,
        )
        if self._instance is not None:
            disconnect_all(self._instance.raise_requested)
        toasts.close()
        tray.hide()
        tray.deleteLater()
        tray.menu.deleteLater()
        dashboard.hide()
        dashboard.deleteLater()
        if self._settings_dialog is not None:
            self._settings_dialog.hide()
            self._settings_dialog.deleteLater()


def _noop() -> None:
    """Gives Python a turn to run signal handlers (Windows fallback only)."""
