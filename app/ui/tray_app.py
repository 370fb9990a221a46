"""The running tray app: builds the Qt parts, connects them to a client, and takes them down.

:class:`TrayApp` lives inside the asyncio (qasync) loop that
:mod:`app.ui.application` starts; ``await TrayApp(...).run()`` returns 0 once
Quit, SIGINT or SIGTERM asked it to stop and everything is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import linecache
import logging
import signal
from typing import TYPE_CHECKING, Any, Final, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from app.client import AuthRefused, GapDetected, ReplayDone, SellerClient, watch_for_wake
from app.config.credentials import load_token
from app.config.paths import AppPaths
from app.config.settings import PAUSED_INDEFINITELY, Settings
from app.domain.cache import CacheRegistry
from app.domain.notices import Notice, Priority, app_notice, describe_gap, short_hash
from app.domain.policy import local_now, pause_for, pause_until_tomorrow
from app.domain.replay_summary import ReplayTally
from app.protocol.frames import EventFrame
from app.store.caches import StoreCaches
from app.store.events import ClientStore, StoreError
from app.store.gaps import GapLog
from app.store.outbox import Outbox
from app.ui.application import configure_logging
from app.ui.balloon import BalloonAdapter
from app.ui.bridge import ClientBridge
from app.ui.connections import disconnect_all
from app.ui.dashboard.lazy import LazyDashboard
from app.ui.native import NativeAdapter
from app.ui.network_watch import NetworkWatch
from app.ui.notifier import Notifier
from app.ui.settings.store import SettingsStore
from app.ui.single_instance import SingleInstance
from app.ui.sound import SoundPlayer
from app.ui.toasts import ToastManager
from app.ui.toasts.adapter import InAppAdapter
from app.ui.tray import TrayIcon, badged_icon

if TYPE_CHECKING:
    from app.ui.settings.dialog import SettingsDialog

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
    (attributes ``tray``, ``toasts``, ``dashboard``, ``notifier``, ``sound``,
    ``native``, ``settings_store``). ``debug``: ``--debug`` was given (the
    ``debug`` setting turns debug logging on too, live).

    Settings apply live: the store's ``changed(key)`` reaches the notifier
    (``notifications.*``), the tray (pause), the log (``debug``) and the
    connection (``connection.*``: reconnect with the new server, wallet or token).
    """

    ready = Signal()

    def __init__(
        self,
        paths: AppPaths,
        *,
        demo: bool,
        instance: SingleInstance | None = None,
        early_signal: SignalSource | None = None,
        debug: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._early_signal = early_signal
        self._debug = debug
        self._reconnecting: asyncio.Task[None] | None = None
        self._reconnect_wanted = False
        self._paths = paths
        self._demo = demo
        self._instance = instance
        self._resources = contextlib.AsyncExitStack()
        self._store: ClientStore | None = None
        self._outbox: Outbox | None = None
        self._gaps: GapLog | None = None
        self._store_problem: str | None = None
        self._wake_task: asyncio.Task[None] | None = None
        self._network: NetworkWatch | None = None
        self._replay: ReplayTally | None = None
        """The replay in progress: its events are shown (summarised) once it is complete."""
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
        self.settings_store, settings_notice = SettingsStore.load(self._paths.settings_file, self)
        settings = self.settings_store.settings
        if settings.debug and not self._debug:
            configure_logging(self._paths, debug=True)
        self._open_store()
        self._build_ui(settings)
        self.ready.emit()
        # PySide6's import hook read the source of each module imported after Qt
        # (see app.ui.application) into linecache; nothing needs it kept.
        linecache.clearcache()
        if settings_notice:
            self.notifier.notify(app_notice("Settings reset", settings_notice, Priority.HIGH))
        connecting = asyncio.create_task(self._connect(settings), name="tray-connect")
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
            return
        try:
            # Beside the events, in the same file (opened after the store, which creates it).
            self._outbox = Outbox(self._paths.client_db)
            self._gaps = GapLog(self._paths.client_db)
        except StoreError as exc:
            # Messages then wait in memory only, and gaps are shown but not kept.
            log.error("%s", exc)

    def _build_ui(self, settings: Settings) -> None:
        notifications = settings.notifications
        self.toasts = ToastManager(
            position=notifications.position,
            max_visible=notifications.max_visible,
            auto_hide_seconds=notifications.auto_hide_seconds,
        )
        self.caches = CacheRegistry()
        # Without the event store the dashboard keeps this session's events in memory.
        # Its window is built when first opened: most sessions only sit in the tray.
        self.dashboard = LazyDashboard(
            self._store,
            caches=self.caches,
            state_file=self._paths.config_dir / "dashboard.ini",
            wallet=settings.connection.wallet,
        )
        self._store_caches = StoreCaches(self._store or self.dashboard.store, self.caches)
        self.tray = TrayIcon(
            server=settings.connection.server_url, wallet=settings.connection.wallet
        )
        self.sound = SoundPlayer(self)
        self.native = NativeAdapter()
        self.notifier = Notifier(
            self.toasts,
            self.dashboard,
            settings=notifications,
            adapters=[InAppAdapter(self.toasts), self.native, BalloonAdapter(self.tray)],
            sound=self.sound,
        )
        self.notifier.follow(self.settings_store)
        self.settings_store.changed.connect(self._setting_changed)
        self.notifier.dashboard_requested.connect(self.dashboard.open)
        self.notifier.pause_ended.connect(self._pause_ended)
        self.tray.open_dashboard_requested.connect(self.dashboard.open)
        self.tray.settings_requested.connect(self._open_settings)
        self.tray.pause_toggled.connect(self._pause_toggled)
        self.tray.pause_requested.connect(self._pause)
        self.tray.quit_requested.connect(self._quit_from_menu)
        if self._instance is not None:
            self._instance.raise_requested.connect(self._raise_requested)
        self.dashboard.unread_changed.connect(self.tray.set_unread)
        self.dashboard.refresh_unread()
        self.tray.start()
        self._show_pause()
        self.native.start()
        if notifications.sound_enabled:
            self.sound.preload()
        if self._store_problem:
            self.notifier.notify(
                app_notice("Event history unavailable", self._store_problem, Priority.HIGH)
            )

    # --- connecting -----------------------------------------------------------------

    async def _connect(self, settings: Settings) -> None:
        try:
            if self._demo:
                # The gateway (and its wallet-signature stack) loads only for --demo:
                # a seller's app never carries it at start-up.
                from app.gateway.demo import DemoGateway

                demo = await self._resources.enter_async_context(
                    DemoGateway(self._paths.gateway_dir, rate=DEMO_RATE)
                )
                since = self._store.last_seq(demo.wallet) if self._store else None
                # A fresh demo home replays the demo's whole story, so toasts come at once.
                self._start_client(demo.url, demo.token, demo.wallet, 0 if since is None else since)
                return
            url, wallet = settings.connection.server_url, settings.connection.wallet
            if not url or not wallet:
                self._open_settings(first_run=True)
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
                        f"No token is stored for wallet {short_hash(wallet)}. Use “Sign in "
                        "with wallet…” or paste a token in Settings, or set "
                        "SELLER_NOTIFIER_TOKEN.",
                        Priority.HIGH,
                    ),
                )
                return
            since = self._store.last_seq(wallet) if self._store else None
            self._start_client(url, token, wallet, since)
        except asyncio.CancelledError:
            raise
        except ValueError as exc:  # a settings problem (bad or unencrypted URL): no traceback
            log.warning("could not start the connection: %s", exc)
            self._explain(
                f"Could not start: {exc}",
                app_notice("Check the connection settings", str(exc), Priority.HIGH),
            )
        except Exception as exc:  # the tray stays up to say what went wrong
            log.exception("could not start the connection")
            self._explain(
                f"Could not start: {exc}",
                app_notice("Could not connect", str(exc), Priority.HIGH),
            )

    def _start_client(self, url: str, token: str, wallet: str, since: int | None) -> None:
        client = SellerClient(
            url,
            token,
            store=self._store,
            since=since,
            wallet=wallet,
            outbox=self._outbox,
            gaps=self._gaps,
            allow_insecure=self.settings_store.settings.connection.allow_insecure,
        )
        self._client = client
        self._bridge = ClientBridge(client)
        self._bridge.event_received.connect(self._present_event)
        self._bridge.event_received.connect(self._note_event)
        self._bridge.status_changed.connect(self.tray.update_status)
        self._bridge.status_changed.connect(self.dashboard.update_status)
        self._bridge.event_received.connect(self._store_caches.on_event)
        self.dashboard.set_wallet(wallet)
        self._bridge.gap_detected.connect(self.notifier.present_gap)
        self._bridge.gap_detected.connect(self._note_gap)
        client.on_replay_done(self._replay_finished)
        # After a sleep or a network change, reconnect at once instead of after the backoff.
        self._wake_task = asyncio.create_task(watch_for_wake(client), name="wake-watch")
        self._network = NetworkWatch(client.reconnect_now, self)
        self._network.start()
        self.tray.set_identity(server=url, wallet=wallet)
        log.info("connecting to %s as %s (since=%s)", url, wallet, since)
        self._client_task = asyncio.create_task(client.run(), name="seller-client")
        self._client_task.add_done_callback(self._client_finished)

    def _note_event(self, _frame: EventFrame) -> None:
        self.tray.note_event()

    def _present_event(self, frame: EventFrame) -> None:
        client = self._client
        if client is not None and client.replaying:
            # No toast per event of a long replay: one summary per type once it is
            # complete. Every event is listed all the same (the history has 100 %).
            if self._replay is None:
                self._replay = ReplayTally()
            for listed in self._replay.add(frame):
                self.dashboard.add_event(listed)
            return
        self.notifier.present_event(frame)

    def _replay_finished(self, _done: ReplayDone) -> None:
        tally, self._replay = self._replay, None
        if tally is None or self._closing:
            return
        summary = tally.summary()
        if not summary.summarized:
            for frame in tally.held:
                self.notifier.present_event(frame, replayed=True)
            return
        log.info(
            "%d events missed while offline: %d summary toast(s)",
            summary.events,
            len(summary.toasts),
        )
        for notice in summary.toasts:
            self.notifier.notify(notice)

    def _note_gap(self, gap: GapDetected) -> None:
        self.tray.set_gap(describe_gap(gap).title)
        self.dashboard.add_notice(describe_gap(gap))

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

    def _open_settings(self, first_run: bool = False) -> None:
        """Show the Settings window; on the first run, at the Connection page."""
        if self._settings_dialog is None:
            # Imported on first open: the dialog's modules are not needed to sit in the tray.
            from app.ui.settings.dialog import SettingsDialog

            self._settings_dialog = SettingsDialog(
                self.settings_store,
                notifier=self.notifier,
                play_sound=self.sound.play,
                sound_problem=self.sound.problem,
                log_file=self._paths.log_file,
            )
        dialog = self._settings_dialog
        self.notifier.recheck()  # a notification service may have started since
        if first_run:
            dialog.set_first_run(True)
            dialog.show_page("connection")
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _pause_toggled(self, paused: bool) -> None:
        self._pause("indefinite" if paused else "resume")

    def _pause(self, choice: str) -> None:
        """A choice from the tray's Pause submenu, kept in the settings (survives a restart)."""
        now = local_now()
        until = {
            "hour": pause_for(now),
            "tomorrow": pause_until_tomorrow(now),
            "indefinite": PAUSED_INDEFINITELY,
        }.get(choice)
        self.settings_store.set("notifications.paused_until", until.isoformat() if until else None)

    def _pause_ended(self) -> None:
        self.settings_store.set("notifications.paused_until", None)

    def _show_pause(self) -> None:
        until = self.settings_store.settings.notifications.paused_until
        self.tray.set_paused(self.notifier.paused, until)

    # --- live settings --------------------------------------------------------------

    def _setting_changed(self, key: str) -> None:
        if key == "notifications.paused_until":
            self._show_pause()
        elif key == "debug":
            debug = self._debug or self.settings_store.settings.debug
            configure_logging(self._paths, debug=debug)
            log.info("debug logging %s", "on" if debug else "off")
        elif key.startswith("connection.") and not self._demo and not self._closing:
            # Several keys changed at once (or while reconnecting) → one more reconnect.
            self._reconnect_wanted = True
            if self._reconnecting is None or self._reconnecting.done():
                self._reconnecting = asyncio.create_task(self._reconnect(), name="tray-reconnect")

    async def _reconnect(self) -> None:
        """Drop the connection (if any) and connect with the settings as they are now."""
        while self._reconnect_wanted and not self._closing:
            self._reconnect_wanted = False
            await self._reconnect_once()

    async def _reconnect_once(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None
        if self._network is not None:
            self._network.stop()
            self._network = None
        if self._wake_task is not None:
            self._wake_task.cancel()
            await asyncio.gather(self._wake_task, return_exceptions=True)
            self._wake_task = None
        await self._stop_client()
        self._client = self._client_task = None
        self.tray.set_problem(None)
        log.info("connection settings changed: reconnecting")
        await self._connect(self.settings_store.settings)

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
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
        if self._bridge is not None:
            self._bridge.close()  # no more events into widgets that are going away
        if self._network is not None:
            self._network.stop()
        if self._wake_task is not None:
            self._wake_task.cancel()
            await asyncio.gather(self._wake_task, return_exceptions=True)
        await self._stop_client()
        await self._store_caches.close()
        try:
            await asyncio.wait_for(self._resources.aclose(), STEP_TIMEOUT)
        except Exception:
            log.exception("the demo gateway did not close cleanly")
        for part in (self._gaps, self._outbox, self._store):
            if part is not None:
                part.close()
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
            tray.pause_requested,
            tray.quit_requested,
            tray.activated,
            toasts.activated,
            toasts.shown,
            toasts.hidden,
        )
        if self._instance is not None:
            disconnect_all(self._instance.raise_requested)
        if self._settings_dialog is not None:
            self._settings_dialog.disconnect_sources()
        self.notifier.close()
        disconnect_all(
            self.settings_store.changed,
            self.notifier.dashboard_requested,
            self.notifier.pause_ended,
            self.notifier.adapters_changed,
        )
        toasts.close()
        tray.hide()
        tray.deleteLater()
        tray.menu.deleteLater()
        badged_icon.cache_clear()  # no QIcon may outlive the QApplication
        disconnect_all(dashboard.unread_changed)
        dashboard.shutdown()
        dashboard.deleteLater()
        if self._settings_dialog is not None:
            self._settings_dialog.hide()
            self._settings_dialog.deleteLater()


def _noop() -> None:
    """Gives Python a turn to run signal handlers (Windows fallback only)."""
