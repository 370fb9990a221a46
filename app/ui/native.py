"""Native desktop notifications (freedesktop D-Bus, Windows, macOS) through desktop-notifier.

Runs on the application's asyncio loop (qasync); dbus-fast, which
desktop-notifier uses on Linux, needs nothing else. The adapter first asks the
platform's notification centre what it can do (the "probe"): on Linux that
fails at once when no notification daemon owns ``org.freedesktop.Notifications``
(or there is no session bus), and the notifier falls back to the next adapter.

Replacing a summary in place: desktop-notifier replaces a notification sent
again with the same ``identifier`` on macOS and Windows (request id / toast
tag). Its D-Bus backend (6.2) always sends ``replaces_id = 0`` and refuses a
reused identifier, so there the previous summary is closed first and the new
one sent: one summary on screen, never a stack.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import ClassVar, Final, Protocol
from uuid import uuid4

from desktop_notifier import Button, Capability, DesktopNotifier, Icon, Notification, Urgency

from app.config.settings import AdapterName, NotificationSettings
from app.domain.notices import Notice, Priority
from app.resources import ResourceMissing, icon_path
from app.ui.notifier import AdapterUnavailable, NotificationAdapter

log = logging.getLogger("seller_notifier.ui")

APP_NAME: Final = "Seller Notifier"
OPEN_ORDER: Final = "Open order"
PROBE_TIMEOUT: Final = 5.0
SEND_TIMEOUT: Final = 10.0

URGENCIES: Final = {
    Priority.LOW: Urgency.Low,
    Priority.NORMAL: Urgency.Normal,
    Priority.HIGH: Urgency.Normal,
    Priority.URGENT: Urgency.Critical,
}
"""Priority → the platform's urgency (freedesktop has three levels: high is normal there)."""


class NotificationCenter(Protocol):
    """What the adapter uses of ``desktop_notifier.DesktopNotifier`` (a fake in tests)."""

    async def get_capabilities(self) -> frozenset[Capability]: ...

    async def send_notification(self, notification: Notification) -> str: ...

    async def clear(self, identifier: str) -> None: ...


def _app_icon() -> Icon | None:
    try:
        return Icon(path=icon_path("seller-notifier"))
    except ResourceMissing:
        return None


def default_center() -> NotificationCenter:
    """The platform's notification centre, as desktop-notifier reaches it."""
    return DesktopNotifier(app_name=APP_NAME, app_icon=_app_icon())


def platform_problem() -> str | None:
    """A reason known without asking the centre (macOS outside an app bundle …)."""
    from desktop_notifier.main import get_backend_class

    backend = get_backend_class()
    if backend.__name__ == "DummyNotificationCenter":
        return (
            "this system's notification centre cannot be reached from here "
            "(on macOS, run the app bundle; Windows needs Windows 10 or later)"
        )
    return None


def replaces_by_identifier() -> bool:
    """True where sending the same identifier again replaces a notification (not D-Bus)."""
    from desktop_notifier.main import get_backend_class

    return get_backend_class().__name__ != "DBusDesktopNotifier"


def describe_failure(exc: BaseException) -> str:
    """A sentence for the seller about why the notification service could not be used."""
    text = str(exc)
    if isinstance(exc, TimeoutError):
        return "the desktop's notification service did not answer"
    if "org.freedesktop.Notifications" in text or "ServiceUnknown" in text:
        return (
            "no notification service is running on this desktop "
            "(nothing provides org.freedesktop.Notifications on the session bus)"
        )
    if isinstance(exc, OSError | ValueError) or "DBUS_SESSION_BUS_ADDRESS" in text:
        return "there is no D-Bus session to reach the desktop's notification service"
    return f"the desktop's notification service failed: {text or type(exc).__name__}"


class NativeAdapter(NotificationAdapter):
    """Shows notices as the platform's own notifications.

    Each notice about an order with a known marketplace page carries an
    "Open order" button; clicking the notification itself does the same (or
    opens the dashboard). Urgency follows priority; urgent notices and, with
    auto-hide off, all notices stay until dismissed. Notices are sent one at a
    time, in order; if the centre turns out to be unavailable, the notice and
    any waiting ones come back through ``failed``.

    ``center``: builds the notification centre (a fake in tests);
    ``replace_by_identifier``: how summaries are replaced (see the module doc).
    """

    name: ClassVar[AdapterName] = "native"

    def __init__(
        self,
        *,
        center: Callable[[], NotificationCenter] = default_center,
        replace_by_identifier: bool | None = None,
        known_problem: Callable[[], str | None] = platform_problem,
    ) -> None:
        super().__init__(None)
        self._make_center = center
        self._center: NotificationCenter | None = None
        self._replace_same = (
            replaces_by_identifier() if replace_by_identifier is None else replace_by_identifier
        )
        self._known_problem = known_problem
        self._problem: str | None = None
        self._probed: asyncio.Future[None] | None = None
        self._pending: deque[tuple[Notice, str | None, str | None]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._by_key: dict[str, str] = {}
        self._timeout = 6
        self._sticky = False
        self.sent: list[str] = []
        """Identifiers of the notifications sent, oldest first (for tests and logs)."""

    # --- adapter --------------------------------------------------------------------

    def problem(self) -> str | None:
        return self._problem

    def configure(self, settings: NotificationSettings) -> None:
        self._timeout = max(1, round(settings.auto_hide_seconds))
        self._sticky = not settings.auto_hide

    def start(self) -> None:
        """Ask the notification centre what it can do, in the background (needs a
        running event loop; without one the adapter reports itself unavailable)."""
        self._ensure_probe()

    def recheck(self) -> None:
        """Probe again in the background if the centre was unavailable; the known
        problem stands (notices keep going to the next adapter) until it answers."""
        if self._probed is None:
            self._ensure_probe()
            return
        if self._problem is None or not self._probed.done():
            return  # fine, or being checked
        if self._known_problem() is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._probed = loop.create_task(self._probe(), name="native-probe")

    def present(self, notice: Notice, key: str | None, *, link: str | None) -> None:
        if self._problem is not None:
            raise AdapterUnavailable(self._problem)
        self._ensure_probe()
        if self._problem is not None:
            raise AdapterUnavailable(self._problem)
        self._pending.append((notice, key, link))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._drain(), name="native-notifications"
            )

    def close(self) -> None:
        self._pending.clear()
        for task in (self._worker, self._probed):
            if task is not None and not task.done():
                task.cancel()

    async def check(self) -> str | None:
        """Ask the notification centre now (once) and return the problem, if any."""
        self._ensure_probe()
        if self._probed is not None:
            await asyncio.shield(self._probed)
        return self._problem

    async def wait_idle(self) -> None:
        """Return once every notice handed to :meth:`present` was sent (or failed)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    # --- probing --------------------------------------------------------------------

    def _ensure_probe(self) -> None:
        if self._probed is not None:
            return
        known = self._known_problem()
        if known is not None:
            self._set_problem(known)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._set_problem("the app's event loop is not running")
            return
        self._probed = loop.create_task(self._probe(), name="native-probe")

    async def _probe(self) -> None:
        try:
            center = self._make_center()
            capabilities = await asyncio.wait_for(center.get_capabilities(), PROBE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._set_problem(describe_failure(exc))
            return
        self._center = center
        self._problem = None
        log.info(
            "desktop notifications available (%s)",
            ", ".join(sorted(c.name.lower() for c in capabilities)),
        )
        self.availability_changed.emit()

    def _set_problem(self, problem: str) -> None:
        if problem != self._problem:
            self._problem = problem
            log.info("desktop notifications unavailable: %s", problem)
            self.availability_changed.emit()

    # --- sending --------------------------------------------------------------------

    async def _drain(self) -> None:
        while self._pending:
            notice, key, link = self._pending.popleft()
            try:
                if self._probed is not None:
                    await self._probed
                if self._problem is not None or self._center is None:
                    raise AdapterUnavailable(self._problem or "not available")
                await self._send(self._center, notice, key, link)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, AdapterUnavailable):
                    reason = exc.reason
                else:
                    reason = describe_failure(exc)
                self._set_problem(reason)
                failed = [(notice, key, link), *self._pending]
                self._pending.clear()
                for item in failed:
                    self.failed.emit(item[0], item[1], reason)
                return

    async def _send(
        self, center: NotificationCenter, notice: Notice, key: str | None, link: str | None
    ) -> None:
        previous = self._by_key.get(key) if key is not None else None
        identifier = previous if previous is not None and self._replace_same else str(uuid4())
        if previous is not None and not self._replace_same:
            await asyncio.wait_for(center.clear(previous), SEND_TIMEOUT)
        activate = partial(self.activated.emit, notice)
        dispatched: list[bool] = []
        sticky = self._sticky or notice.priority is Priority.URGENT
        notification = Notification(
            title=notice.title,
            message=notice.body,
            urgency=URGENCIES[notice.priority],
            icon=_event_icon(notice.icon),
            buttons=(Button(title=OPEN_ORDER, on_pressed=activate),) if link else (),
            on_clicked=activate,
            on_dispatched=lambda: dispatched.append(True),
            timeout=0 if sticky else self._timeout,
            identifier=identifier,
        )
        await asyncio.wait_for(center.send_notification(notification), SEND_TIMEOUT)
        if not dispatched:
            # desktop-notifier logs and swallows a failed send; the dispatch
            # callback is the only sign that the centre took it.
            raise AdapterUnavailable("the desktop's notification service refused the notification")
        if key is not None:
            self._by_key[key] = identifier
        self.sent.append(identifier)


def _event_icon(name: str) -> Icon | None:
    try:
        return Icon(path=icon_path(name))
    except ResourceMissing:
        return None
