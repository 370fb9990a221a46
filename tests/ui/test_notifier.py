"""The notifier: adapters and their fallback chain, clicks, filters, bursts, sounds, pauses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot
from ui_support import order_frame

from app.config.settings import (
    PAUSED_INDEFINITELY,
    NotificationSettings,
    QuietHours,
    SoundSettings,
)
from app.domain.notices import Notice, Priority, app_notice
from app.protocol.frames import EventFrame
from app.ui.balloon import BalloonAdapter
from app.ui.notifier import AdapterUnavailable, NotificationAdapter, Notifier
from app.ui.settings.store import SettingsStore
from app.ui.toasts import ToastManager
from app.ui.toasts.adapter import WAYLAND_PROBLEM, InAppAdapter

LOCAL = timezone(timedelta(hours=1))
WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
TEMPLATE = "https://market.example/orders/{orderId}"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 14, 0, tzinfo=LOCAL)  # a Wednesday

    def __call__(self) -> datetime:
        return self.now


class RecordingAdapter(NotificationAdapter):
    """Records what it was asked to show; can be unavailable or fail later."""

    def __init__(self, name: str, problem: str | None = None) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self._problem = problem
        self.shown: list[tuple[str, str | None, str | None]] = []
        self.refuse: str | None = None

    def problem(self) -> str | None:
        return self._problem

    def present(self, notice: Notice, key: str | None, *, link: str | None) -> None:
        if self.refuse:
            self._problem = self.refuse
            raise AdapterUnavailable(self.refuse)
        self.shown.append((notice.title, key, link))

    def fail_later(self, notice: Notice, reason: str) -> None:
        self._problem = reason
        self.failed.emit(notice, None, reason)


class EventList:
    """Stands in for the dashboard: every event is listed here."""

    def __init__(self) -> None:
        self.frames: list[EventFrame] = []

    def add_event(self, frame: EventFrame) -> None:
        self.frames.append(frame)

    def rows(self) -> list[EventFrame]:
        return self.frames


class RecordingSound:
    def __init__(self) -> None:
        self.played: list[tuple[str, float]] = []
        self.closed = False

    def play(self, name: str, volume: float) -> bool:
        self.played.append((name, volume))
        return True

    def close(self) -> None:
        self.closed = True


def fresh_order(seq: int, order_id: str | None = None, total: str = "12.50") -> EventFrame:
    frame = order_frame(WALLET, seq, order_id)
    event = frame.event.model_copy(update={"total": Decimal(total)})
    return frame.model_copy(update={"ts": datetime.now(UTC), "event": event})


@pytest.fixture
def toasts(qapp: object) -> Iterator[ToastManager]:
    manager = ToastManager(screen_geometry=lambda: QRect(0, 0, 1200, 900), auto_hide_seconds=60)
    yield manager
    manager.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sound() -> RecordingSound:
    return RecordingSound()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    urls: list[str] = []

    def record(url: QUrl) -> bool:
        urls.append(bytes(url.toEncoded().data()).decode())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", record)
    return urls


def make(
    toasts: ToastManager,
    clock: FakeClock,
    sound: RecordingSound | None = None,
    adapters: list[NotificationAdapter] | None = None,
    dashboard: EventList | None = None,
    **settings: Any,
) -> Notifier:
    return Notifier(
        toasts,
        dashboard,
        settings=NotificationSettings(**settings),
        adapters=adapters,
        sound=sound,
        clock=clock,
        screen_geometry=lambda _name: QRect(0, 0, 1200, 900),
    )


def titles(toasts: ToastManager) -> list[str]:
    return [t.notice.title for t in toasts.visible_toasts]


# --- the ordinary path ---------------------------------------------------------------


def test_an_order_is_a_toast_with_its_sound(
    toasts: ToastManager, clock: FakeClock, sound: RecordingSound, qtbot: QtBot
) -> None:
    dashboard = EventList()
    notifier = make(
        toasts, clock, sound, dashboard=dashboard, sounds=SoundSettings(volume=40)
    )
    notifier.present_event(fresh_order(1, "A1"))
    assert titles(toasts) == ["New order #A1 — 12.50 USDC"]
    assert sound.played == [("new-order", 0.4)]
    assert len(dashboard.rows()) == 1
    notifier.close()
    assert sound.closed


def test_filtered_events_are_still_listed(
    toasts: ToastManager, clock: FakeClock, sound: RecordingSound, qtbot: QtBot
) -> None:
    dashboard = EventList()
    notifier = make(
        toasts,
        clock,
        sound,
        dashboard=dashboard,
        min_order_amount="100",
        quiet_hours=QuietHours(enabled=True, start=time(13), end=time(15)),
    )
    decision = notifier.present_event(fresh_order(1, "A1", total="500"))
    assert decision.reason == "quiet hours"
    assert notifier.present_event(fresh_order(2, "A2", total="5")).reason == (
        "below minimum amount"
    )
    assert toasts.visible_toasts == [] and sound.played == []
    assert len(dashboard.rows()) == 2, "the history has everything"
    clock.now = clock.now.replace(hour=16)
    notifier.present_event(fresh_order(3, "A3", total="500"))
    assert titles(toasts) == ["New order #A3 — 500.00 USDC"]


def test_a_burst_is_one_summary_toast_and_one_sound(
    toasts: ToastManager, clock: FakeClock, sound: RecordingSound
) -> None:
    notifier = make(toasts, clock, sound)
    for seq in range(1, 8):
        notifier.present_event(fresh_order(seq, f"A{seq}"))
    assert titles(toasts) == [
        "New order #A1 — 12.50 USDC",
        "New order #A2 — 12.50 USDC",
        "New order #A3 — 12.50 USDC",
        "7 new orders · 87.50 USDC",
    ]
    assert [name for name, _ in sound.played] == ["new-order"]


def test_replays_are_shown_but_silent(
    toasts: ToastManager, clock: FakeClock, sound: RecordingSound
) -> None:
    notifier = make(toasts, clock, sound)
    notifier.present_event(fresh_order(1, "A1"), replayed=True)
    old = order_frame(WALLET, 2, "A2")  # stamped 2026-11-25 10:00 UTC: hours ago
    notifier.present_event(old)
    assert len(toasts.visible_toasts) == 2 and sound.played == []


def test_sound_switch_off(toasts: ToastManager, clock: FakeClock, sound: RecordingSound) -> None:
    notifier = make(toasts, clock, sound, sound_enabled=False)
    notifier.present_event(fresh_order(1, "A1"))
    assert titles(toasts) and sound.played == []


# --- clicks --------------------------------------------------------------------------


def test_clicking_an_order_opens_its_marketplace_page(
    toasts: ToastManager, clock: FakeClock, opened: list[str], qtbot: QtBot
) -> None:
    notifier = make(toasts, clock, order_url_template=TEMPLATE)
    wanted: list[bool] = []
    notifier.dashboard_requested.connect(lambda: wanted.append(True))
    notifier.present_event(fresh_order(1, "A/1 x"))
    (toast,) = toasts.visible_toasts
    qtbot.mouseClick(toast.body_label, Qt.MouseButton.LeftButton)
    assert opened == ["https://market.example/orders/A%2F1%20x"]
    assert wanted == [] and toasts.visible_toasts == []


def test_clicking_without_a_page_opens_the_dashboard(
    toasts: ToastManager, clock: FakeClock, opened: list[str], qtbot: QtBot
) -> None:
    notifier = make(toasts, clock)
    with qtbot.waitSignal(notifier.dashboard_requested, timeout=1000):
        notifier.present_event(fresh_order(1, "A1"))
        qtbot.mouseClick(toasts.visible_toasts[0].title_label, Qt.MouseButton.LeftButton)
    assert opened == []


def test_a_summary_click_opens_the_dashboard(
    toasts: ToastManager, clock: FakeClock, opened: list[str], qtbot: QtBot
) -> None:
    notifier = make(toasts, clock, order_url_template=TEMPLATE)
    for seq in range(1, 6):
        notifier.present_event(fresh_order(seq))
    summary = toasts.visible_toasts[-1]
    assert summary.notice.title.startswith("5 new orders")
    with qtbot.waitSignal(notifier.dashboard_requested, timeout=1000):
        qtbot.mouseClick(summary.title_label, Qt.MouseButton.LeftButton)
    assert opened == []


def test_a_page_that_cannot_open_falls_back_to_the_dashboard(
    toasts: ToastManager, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, qtbot: QtBot
) -> None:
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    notifier = make(toasts, clock, order_url_template=TEMPLATE)
    notifier.present_event(fresh_order(1, "A1"))
    with qtbot.waitSignal(notifier.dashboard_requested, timeout=1000):
        qtbot.mouseClick(toasts.visible_toasts[0].title_label, Qt.MouseButton.LeftButton)


def test_links_reach_the_adapters(toasts: ToastManager, clock: FakeClock) -> None:
    native = RecordingAdapter("native")
    notifier = make(
        toasts, clock, adapters=[native], adapter="native", order_url_template=TEMPLATE
    )
    notifier.present_event(fresh_order(1, "A1"))
    notifier.notify(app_notice("Connected"))
    assert native.shown == [
        ("New order #A1 — 12.50 USDC", None, "https://market.example/orders/A1"),
        ("Connected", None, None),
    ]


# --- the fallback chain ---------------------------------------------------------------


def test_the_chosen_adapter_first(toasts: ToastManager, clock: FakeClock) -> None:
    native = RecordingAdapter("native")
    notifier = make(
        toasts, clock, adapters=[InAppAdapter(toasts), native], adapter="native"
    )
    notifier.present_event(fresh_order(1, "A1"))
    assert [t for t, _, _ in native.shown] == ["New order #A1 — 12.50 USDC"]
    assert toasts.visible_toasts == []
    assert notifier.active_adapter() == "native"


def test_an_unavailable_choice_falls_back_and_says_why(
    toasts: ToastManager, clock: FakeClock
) -> None:
    native = RecordingAdapter("native", problem="no notification service is running")
    notifier = make(
        toasts, clock, adapters=[InAppAdapter(toasts), native], adapter="native"
    )
    notifier.present_event(fresh_order(1, "A1"))
    assert titles(toasts) == ["New order #A1 — 12.50 USDC"]
    states = {s.name: s for s in notifier.adapter_states()}
    assert states["native"].problem == "no notification service is running"
    assert states["in-app"].in_use and not states["native"].in_use
    assert "no notification service" in notifier.send_test()


def test_an_adapter_that_refuses_passes_the_notice_on(
    toasts: ToastManager, clock: FakeClock
) -> None:
    native, tray = RecordingAdapter("native"), RecordingAdapter("tray")
    native.refuse = "the bus went away"
    notifier = make(toasts, clock, adapters=[native, tray], adapter="native")
    changed: list[bool] = []
    notifier.adapters_changed.connect(lambda: changed.append(True))
    notifier.present_event(fresh_order(1, "A1"))
    assert [t for t, _, _ in tray.shown] == ["New order #A1 — 12.50 USDC"]
    assert changed and notifier.active_adapter() == "tray"


def test_a_later_failure_is_shown_by_the_next_adapter(
    toasts: ToastManager, clock: FakeClock
) -> None:
    native = RecordingAdapter("native")
    notifier = make(
        toasts, clock, adapters=[InAppAdapter(toasts), native], adapter="native"
    )
    notifier.present_event(fresh_order(1, "A1"))
    assert toasts.visible_toasts == []
    native.fail_later(Notice("Payment received", "", Priority.NORMAL, "x", "event-payment"), "gone")
    assert titles(toasts) == ["Payment received"]
    assert notifier.active_adapter() == "in-app"


def test_wayland_sends_in_app_toasts_to_the_next_adapter(
    toasts: ToastManager, clock: FakeClock
) -> None:
    native = RecordingAdapter("native")
    in_app = InAppAdapter(toasts, platform_name=lambda: "wayland")
    notifier = make(toasts, clock, adapters=[in_app, native], adapter="in-app")
    notifier.present_event(fresh_order(1, "A1"))
    assert toasts.visible_toasts == [] and len(native.shown) == 1
    assert in_app.problem() == WAYLAND_PROBLEM


def test_nowhere_to_show_is_logged_once(
    toasts: ToastManager, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    broken = RecordingAdapter("in-app", problem="no screen")
    notifier = make(toasts, clock, adapters=[broken])
    notifier.present_event(fresh_order(1, "A1"))
    notifier.present_event(fresh_order(2, "A2"))
    assert sum("no way to show notifications" in r.getMessage() for r in caplog.records) == 1
    assert notifier.send_test().startswith("Could not show it: In-app toasts: no screen")


def test_the_tray_balloon_knows_when_there_is_no_tray(qapp: object) -> None:
    tray = QSystemTrayIcon()
    try:
        assert BalloonAdapter(tray).problem() == "this desktop has no system tray"
        shown = BalloonAdapter(tray, tray_available=lambda: True)
        assert shown.problem() == "the tray icon is not shown"
        with pytest.raises(AdapterUnavailable):
            shown.present(app_notice("x"), None, link=None)
    finally:
        tray.deleteLater()


# --- pausing and the test button ----------------------------------------------------------


def test_pausing_clears_and_holds_toasts_but_not_app_problems(
    toasts: ToastManager, clock: FakeClock
) -> None:
    notifier = make(toasts, clock)
    notifier.present_event(fresh_order(1, "A1"))
    notifier.set_paused(True)
    assert notifier.paused and toasts.visible_toasts == []
    assert notifier.settings.paused_until == PAUSED_INDEFINITELY
    notifier.present_event(fresh_order(2, "A2"))
    notifier.notify(app_notice("Settings reset"))
    assert toasts.visible_toasts == []
    notifier.notify(app_notice("The server refused this device"), even_if_paused=True)
    assert titles(toasts) == ["The server refused this device"]
    notifier.set_paused(False)
    notifier.present_event(fresh_order(3, "A3"))
    assert len(toasts.visible_toasts) == 2


def test_a_timed_pause_ends_by_itself(
    toasts: ToastManager, clock: FakeClock, qtbot: QtBot
) -> None:
    notifier = make(toasts, clock, paused_until=clock.now + timedelta(milliseconds=20))
    assert notifier.paused
    clock.now += timedelta(minutes=1)  # the fake clock runs ahead; the timer still fires
    with qtbot.waitSignal(notifier.pause_ended, timeout=5000):
        pass
    assert not notifier.paused


def test_the_test_notification_ignores_filters(
    toasts: ToastManager, clock: FakeClock, sound: RecordingSound
) -> None:
    notifier = make(
        toasts, clock, sound, paused_until=PAUSED_INDEFINITELY, min_priority="urgent"
    )
    result = notifier.send_test()
    assert result == "Sent as: In-app toasts. Sound: new-order."
    assert titles(toasts) == ["New order #TEST-1 — 42.00 USDC"]
    assert sound.played == [("new-order", 0.8)]


# --- live settings ---------------------------------------------------------------------


def test_settings_changes_apply_at_once(
    toasts: ToastManager, clock: FakeClock, sound: RecordingSound, tmp_path: Path
) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    notifier = make(toasts, clock, sound)
    notifier.follow(store)
    notifier.present_event(fresh_order(1, "A1"))
    (toast,) = toasts.visible_toasts
    assert toast.y() == 16

    store.set("notifications.position", "bottom-left")
    assert toasts.position == "bottom-left"
    assert toast.x() == 16 and toast.y() + toast.height() == 900 - 16
    store.set("notifications.sounds.new_order", "payment")
    store.set("notifications.sounds.volume", 25)
    clock.now += timedelta(seconds=5)
    notifier.present_event(fresh_order(2, "A2"))
    assert sound.played[-1] == ("payment", 0.25)
    store.set("notifications.types.new_order", False)
    clock.now += timedelta(seconds=5)
    assert notifier.present_event(fresh_order(3, "A3")).reason == "type off"
    notifier.close()
    store.set("notifications.position", "top-left")
    assert toasts.position == "bottom-left", "a closed notifier no longer follows"
