"""Native notifications through desktop-notifier, with a fake notification centre
(the real D-Bus path is in tests/e2e/test_notifications_e2e.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from dbus_fast.errors import DBusError
from desktop_notifier import Capability, Notification, Urgency
from PySide6.QtCore import QRect

from app.config.settings import NotificationSettings
from app.domain.notices import Notice, Priority, app_notice
from app.ui.native import OPEN_ORDER, NativeAdapter, describe_failure
from app.ui.notifier import AdapterUnavailable, Notifier
from app.ui.toasts import ToastManager
from app.ui.toasts.adapter import InAppAdapter

LINK = "https://market.example/orders/A1"
NO_DAEMON = DBusError(
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "The name org.freedesktop.Notifications was not provided by any .service files",
)



def qt_async(test: Any) -> Any:
    """An async test on a qasync loop (Qt signals and timers work)."""
    return pytest.mark.asyncio(pytest.mark.qt_loop(test))


class FakeCenter:
    """Stands in for desktop_notifier.DesktopNotifier."""

    def __init__(self, *, probe_error: BaseException | None = None, dispatch: bool = True):
        self.probe_error = probe_error
        self.dispatch = dispatch
        self.sent: list[Notification] = []
        self.cleared: list[str] = []

    async def get_capabilities(self) -> frozenset[Capability]:
        await asyncio.sleep(0)
        if self.probe_error is not None:
            raise self.probe_error
        return frozenset({Capability.BUTTONS, Capability.ON_CLICKED})

    async def send_notification(self, notification: Notification) -> str:
        self.sent.append(notification)
        if self.dispatch and notification.on_dispatched is not None:
            notification.on_dispatched()
        return notification.identifier

    async def clear(self, identifier: str) -> None:
        self.cleared.append(identifier)


def order(title: str = "New order #A1 — 12.50 USDC", priority: Priority = Priority.NORMAL):
    return Notice(title, "1 × Mug", priority, "new_order", "event-new-order", order_id="A1")


def adapter_for(center: FakeCenter, **kwargs: object) -> NativeAdapter:
    adapter = NativeAdapter(center=lambda: center, known_problem=lambda: None, **kwargs)
    adapter.configure(NotificationSettings(auto_hide_seconds=9))
    return adapter


@pytest.fixture
def toasts(qapp: object) -> Iterator[ToastManager]:
    manager = ToastManager(screen_geometry=lambda: QRect(0, 0, 1200, 900))
    yield manager
    manager.close()


@qt_async
async def test_an_order_with_open_order_button_and_urgency() -> None:
    center = FakeCenter()
    adapter = adapter_for(center)
    activated: list[str] = []
    adapter.activated.connect(lambda notice: activated.append(notice.title))
    adapter.present(order(), None, link=LINK)
    adapter.present(app_notice("Token refused", priority=Priority.URGENT), None, link=None)
    await asyncio.wait_for(adapter.wait_idle(), 5)

    first, second = center.sent
    assert (first.title, first.message) == ("New order #A1 — 12.50 USDC", "1 × Mug")
    assert [b.title for b in first.buttons] == [OPEN_ORDER]
    assert first.urgency is Urgency.Normal and first.timeout == 9
    assert second.buttons == () and second.urgency is Urgency.Critical
    assert second.timeout == 0, "urgent notices stay until dismissed"
    assert adapter.sent == [first.identifier, second.identifier]

    first.buttons[0].on_pressed()  # type: ignore[misc]
    assert first.on_clicked is not None
    first.on_clicked()
    assert activated == ["New order #A1 — 12.50 USDC"] * 2


@pytest.mark.parametrize(("priority", "urgency"), [
    (Priority.LOW, Urgency.Low),
    (Priority.HIGH, Urgency.Normal),
])  # fmt: skip
@qt_async
async def test_urgency_follows_priority(priority: Priority, urgency: Urgency) -> None:
    center = FakeCenter()
    adapter = adapter_for(center)
    adapter.present(order(priority=priority), None, link=None)
    await asyncio.wait_for(adapter.wait_idle(), 5)
    assert center.sent[0].urgency is urgency


@qt_async
async def test_a_summary_replaces_the_previous_one_on_dbus() -> None:
    center = FakeCenter()
    adapter = adapter_for(center, replace_by_identifier=False)
    adapter.present(order("4 new orders · 50.00 USDC"), "summary:1", link=None)
    adapter.present(order("5 new orders · 62.50 USDC"), "summary:1", link=None)
    adapter.present(order("6 new orders · 75.00 USDC"), "summary:1", link=None)
    await asyncio.wait_for(adapter.wait_idle(), 5)
    ids = [n.identifier for n in center.sent]
    assert len(set(ids)) == 3
    assert center.cleared == ids[:2], "each update closes the one before: never a stack"


@qt_async
async def test_a_summary_keeps_its_identifier_where_that_replaces() -> None:
    center = FakeCenter()
    adapter = adapter_for(center, replace_by_identifier=True)
    adapter.present(order("4 new orders"), "summary:1", link=None)
    adapter.present(order("5 new orders"), "summary:1", link=None)
    await asyncio.wait_for(adapter.wait_idle(), 5)
    assert center.sent[0].identifier == center.sent[1].identifier
    assert center.cleared == []


@qt_async
async def test_no_notification_daemon() -> None:
    adapter = adapter_for(FakeCenter(probe_error=NO_DAEMON))
    failed: list[tuple[str, str]] = []
    adapter.failed.connect(lambda notice, key, reason: failed.append((notice.title, reason)))
    adapter.present(order("first"), None, link=None)
    adapter.present(order("second"), None, link=None)
    await asyncio.wait_for(adapter.wait_idle(), 5)
    problem = adapter.problem()
    assert problem is not None and "no notification service is running" in problem
    assert failed == [("first", problem), ("second", problem)], "handed back in order"
    with pytest.raises(AdapterUnavailable):
        adapter.present(order("third"), None, link=None)


@qt_async
async def test_a_refused_send_is_a_failure() -> None:
    adapter = adapter_for(FakeCenter(dispatch=False))
    failed: list[str] = []
    adapter.failed.connect(lambda notice, key, reason: failed.append(reason))
    adapter.present(order(), None, link=None)
    await asyncio.wait_for(adapter.wait_idle(), 5)
    assert failed == ["the desktop's notification service refused the notification"]


@qt_async
async def test_recheck_finds_a_daemon_that_started_later() -> None:
    centers = [FakeCenter(probe_error=NO_DAEMON), FakeCenter()]
    adapter = NativeAdapter(center=lambda: centers.pop(0), known_problem=lambda: None)
    assert await asyncio.wait_for(adapter.check(), 5) is not None
    adapter.recheck()
    assert await asyncio.wait_for(adapter.check(), 5) is None


@qt_async
async def test_the_notifier_falls_back_to_toasts_without_a_daemon(toasts: ToastManager) -> None:
    native = adapter_for(FakeCenter(probe_error=NO_DAEMON))
    notifier = Notifier(
        toasts,
        settings=NotificationSettings(adapter="native"),
        adapters=[InAppAdapter(toasts), native],
        screen_geometry=lambda _name: QRect(0, 0, 1200, 900),
    )
    native.start()
    notifier.notify(app_notice("Connected to the marketplace"))
    await asyncio.wait_for(native.wait_idle(), 5)
    assert [t.notice.title for t in toasts.visible_toasts] == ["Connected to the marketplace"]
    assert notifier.active_adapter() == "in-app"
    (state,) = [s for s in notifier.adapter_states() if s.name == "native"]
    assert state.problem is not None and "org.freedesktop.Notifications" in state.problem
    notifier.close()


def test_without_a_running_loop_it_says_so(qapp: object) -> None:
    adapter = NativeAdapter(center=FakeCenter, known_problem=lambda: None)
    adapter.start()
    assert adapter.problem() == "the app's event loop is not running"


def test_macos_outside_a_bundle_is_a_known_problem(qapp: object) -> None:
    adapter = NativeAdapter(center=FakeCenter, known_problem=lambda: "run the app bundle")
    with pytest.raises(AdapterUnavailable, match="bundle"):
        adapter.present(order(), None, link=None)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (NO_DAEMON, "no notification service is running"),
        (TimeoutError(), "did not answer"),
        (FileNotFoundError(2, "No such file"), "no D-Bus session"),
        (RuntimeError("boom"), "failed: boom"),
    ],
)
def test_failures_in_words(error: BaseException, words: str) -> None:
    assert words in describe_failure(error)
