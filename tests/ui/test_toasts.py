"""Toasts on screen: corner, queueing, auto-hide, focus, colours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QEnterEvent, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget
from pytestqt.qtbot import QtBot
from ui_support import notice

from app.domain.notices import Priority
from app.ui.toasts import ACCENTS, Toast, ToastManager, available_geometry
from app.ui.toasts.toast import DARK, LIGHT, toast_style

SCREEN = QRect(0, 0, 1200, 900)


@pytest.fixture
def make_manager(qtbot: QtBot) -> Iterator[object]:
    managers: list[ToastManager] = []

    def make(**kwargs: object) -> ToastManager:
        options: dict[str, object] = {"screen_geometry": lambda: QRect(SCREEN)}
        options.update(kwargs)
        manager = ToastManager(**options)  # type: ignore[arg-type]
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.close()


def titles(manager: ToastManager) -> list[str]:
    return [t.notice.title for t in manager.visible_toasts]


def test_toast_appears_in_the_top_right_corner(make_manager, qtbot: QtBot) -> None:
    manager = make_manager()
    assert manager.show_notice(notice("New order #A1"))
    (toast,) = manager.visible_toasts
    qtbot.waitExposed(toast)
    assert toast.isVisible()
    assert toast.x() + toast.width() == SCREEN.width() - 16
    assert toast.y() == 16
    assert toast.title_label.text() == "New order #A1"


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_toasts_stack_from_the_chosen_corner(make_manager, corner: str) -> None:
    manager = make_manager(position=corner, max_visible=3)
    for n in range(3):
        manager.show_notice(notice(f"n{n}"))
    first, second, third = manager.visible_toasts
    left = corner.endswith("left")
    for toast in (first, second, third):
        assert (toast.x() == 16) if left else (toast.x() + toast.width() == SCREEN.width() - 16)
    if corner.startswith("top"):
        assert first.y() == 16 and first.y() < second.y() < third.y()
    else:
        assert first.y() + first.height() == SCREEN.height() - 16
        assert first.y() > second.y() > third.y()


def test_at_most_max_visible_rest_queued_in_order(make_manager, qtbot: QtBot) -> None:
    manager = make_manager(max_visible=3, auto_hide_seconds=60)
    for n in range(1, 6):
        manager.show_notice(notice(f"Order {n}"))
    assert titles(manager) == ["Order 1", "Order 2", "Order 3"]
    assert [n.title for n in manager.queued] == ["Order 4", "Order 5"]

    manager.visible_toasts[0].close_button.click()
    assert titles(manager) == ["Order 2", "Order 3", "Order 4"]
    assert manager.visible_toasts[0].y() == 16, "the rest move up into the freed place"

    manager.visible_toasts[1].close_button.click()
    assert titles(manager) == ["Order 2", "Order 4", "Order 5"]
    assert manager.queued == []


def test_toasts_hide_by_themselves(make_manager, qtbot: QtBot) -> None:
    manager = make_manager(max_visible=1, auto_hide_seconds=1)
    # auto_hide_seconds has a floor of 1 s in settings; drive it shorter here.
    manager.configure(position="top-right", max_visible=1, auto_hide_seconds=0.05)
    hidden: list[str] = []
    manager.hidden.connect(lambda n: hidden.append(n.title))
    manager.show_notice(notice("first"))
    manager.show_notice(notice("second"))
    qtbot.waitUntil(lambda: hidden == ["first", "second"], timeout=5000)
    assert manager.visible_toasts == [] and manager.queued == []


def test_urgent_toasts_stay_until_dismissed(make_manager, qtbot: QtBot) -> None:
    manager = make_manager(max_visible=2)
    manager.configure(position="top-right", max_visible=2, auto_hide_seconds=0.05)
    hidden: list[str] = []
    manager.hidden.connect(lambda n: hidden.append(n.title))
    manager.show_notice(notice("urgent", Priority.URGENT))
    manager.show_notice(notice("normal"))
    qtbot.waitUntil(lambda: hidden == ["normal"], timeout=5000)
    assert titles(manager) == ["urgent"]


def test_silent_notices_are_not_shown(make_manager) -> None:
    manager = make_manager()
    silent = notice("cache")
    from dataclasses import replace

    assert not manager.show_notice(replace(silent, silent=True))
    assert manager.visible_toasts == []


def test_a_flood_is_summarised(make_manager) -> None:
    manager = make_manager(max_visible=1, max_queued=3, auto_hide_seconds=60)
    for n in range(10):
        manager.show_notice(notice(f"n{n}"))
    # n0 on screen; n1..n9 arrived for 3 places: n7, n8, n9 wait, 6 were dropped.
    assert [n.title for n in manager.queued] == ["n7", "n8", "n9"]
    for _ in range(3):
        manager.dismiss(manager.visible_toasts[0])
    assert titles(manager) == ["n9"]
    manager.dismiss(manager.visible_toasts[0])
    assert titles(manager) == ["6 more notifications"]


def test_toast_never_takes_focus(make_manager, qtbot: QtBot) -> None:
    editor = QLineEdit()
    qtbot.addWidget(editor)
    editor.show()
    editor.activateWindow()
    editor.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is editor, timeout=5000)

    manager = make_manager()
    manager.show_notice(notice("New order"))
    (toast,) = manager.visible_toasts
    qtbot.waitExposed(toast)
    assert toast.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert toast.windowFlags() & Qt.WindowType.WindowDoesNotAcceptFocus
    assert QApplication.activeWindow() is editor
    assert not toast.isActiveWindow()
    assert editor.hasFocus()


@pytest.mark.parametrize("priority", list(Priority))
def test_accent_colour_follows_priority(qtbot: QtBot, priority: Priority) -> None:
    toast = Toast(notice("x", priority))
    qtbot.addWidget(toast)
    accent = toast.findChild(object, "toastAccent")
    assert toast.accent_colour == ACCENTS[priority]
    assert ACCENTS[priority] in accent.styleSheet()


def test_accent_colours_differ() -> None:
    assert len(set(ACCENTS.values())) == 4


def test_clicking_a_toast_activates_it(make_manager, qtbot: QtBot) -> None:
    manager = make_manager()
    activated: list[str] = []
    manager.activated.connect(lambda n: activated.append(n.title))
    manager.show_notice(notice("Order 7"))
    (toast,) = manager.visible_toasts
    qtbot.mouseClick(toast.title_label, Qt.MouseButton.LeftButton)
    assert activated == ["Order 7"]
    assert manager.visible_toasts == []


def test_toast_text_is_plain(qtbot: QtBot) -> None:
    toast = Toast(notice("<b>bold</b>", body="<img src=x>"))
    qtbot.addWidget(toast)
    assert toast.title_label.textFormat() == Qt.TextFormat.PlainText
    assert toast.body_label.textFormat() == Qt.TextFormat.PlainText


# --- the chosen screen, in-place updates, hover, auto-hide, palette, accessibility ----------

SECOND_SCREEN = QRect(1920, 40, 1280, 984)  # right of a 1920-px screen, under a 40-px panel


@pytest.mark.parametrize(
    ("corner", "x", "y"),
    [
        ("top-left", 1920 + 16, 40 + 16),
        ("top-right", 1920 + 1280 - 16 - 360, 40 + 16),
        ("bottom-left", 1920 + 16, 40 + 984 - 16),
        ("bottom-right", 1920 + 1280 - 16 - 360, 40 + 984 - 16),
    ],
)
def test_toast_geometry_on_a_given_screen(make_manager, corner: str, x: int, y: int) -> None:
    manager = make_manager(position=corner, screen_geometry=lambda: QRect(SECOND_SCREEN))
    manager.show_notice(notice("New order #B2"))
    (toast,) = manager.visible_toasts
    assert toast.x() == x and toast.width() == 360
    if corner.startswith("top"):
        assert toast.y() == y
    else:
        assert toast.y() + toast.height() == y


def test_moving_to_another_corner_and_screen_moves_the_toasts_on_screen(make_manager) -> None:
    manager = make_manager(max_visible=2, auto_hide_seconds=60)
    manager.show_notice(notice("one"))
    manager.show_notice(notice("two"))
    manager.configure(
        position="bottom-left",
        max_visible=2,
        auto_hide_seconds=60,
        screen_geometry=lambda: QRect(SECOND_SCREEN),
    )
    first, second = manager.visible_toasts
    assert first.x() == second.x() == 1920 + 16
    assert first.y() + first.height() == 40 + 984 - 16
    assert second.y() < first.y()


def test_a_keyed_notice_replaces_its_toast_in_place(make_manager) -> None:
    manager = make_manager(max_visible=3, auto_hide_seconds=60)
    manager.show_notice(notice("New order #A1"))
    manager.show_notice(notice("4 new orders · 50.00 USDC"), key="summary:new_order:1")
    summary = manager.visible_toasts[1]
    place = summary.pos()
    manager.show_notice(
        notice("7 new orders · 412.50 USDC", body="Latest: #A7"), key="summary:new_order:1"
    )
    assert titles(manager) == ["New order #A1", "7 new orders · 412.50 USDC"]
    assert manager.visible_toasts[1] is summary, "the same window, updated"
    assert summary.pos() == place
    assert summary.body_label.text() == "Latest: #A7"


def test_a_keyed_notice_replaces_a_queued_one(make_manager) -> None:
    manager = make_manager(max_visible=1, auto_hide_seconds=60)
    manager.show_notice(notice("on screen"))
    manager.show_notice(notice("4 reviews"), key="k")
    manager.show_notice(notice("other"))
    manager.show_notice(notice("6 reviews"), key="k")
    assert [n.title for n in manager.queued] == ["6 reviews", "other"]


def enter(widget: QWidget) -> None:
    QApplication.sendEvent(
        widget, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(widget.mapToGlobal(QPoint(5, 5))))
    )


def leave(widget: QWidget) -> None:
    QApplication.sendEvent(widget, QEvent(QEvent.Type.Leave))


def test_hover_holds_the_auto_hide_timer(make_manager, qtbot: QtBot) -> None:
    manager = make_manager(auto_hide_seconds=5)
    manager.show_notice(notice("read me"))
    (toast,) = manager.visible_toasts
    timer = toast.findChild(QTimer)
    assert timer.isActive() and timer.interval() == 5000
    enter(toast)
    assert not timer.isActive(), "the pointer rests on it: it stays"
    leave(toast)
    assert timer.isActive(), "the pointer left: the countdown starts again"
    manager.configure(position="top-right", max_visible=4, auto_hide_seconds=0.05)
    hidden: list[str] = []
    manager.hidden.connect(lambda n: hidden.append(n.title))
    qtbot.waitUntil(lambda: hidden == ["read me"], timeout=5000)


def test_auto_hide_off_keeps_toasts(make_manager) -> None:
    manager = make_manager(auto_hide=False, auto_hide_seconds=1)
    manager.show_notice(notice("stays"))
    (toast,) = manager.visible_toasts
    assert not toast.findChild(QTimer).isActive()
    assert manager.auto_hide_ms is None
    manager.configure(position="top-right", max_visible=4, auto_hide_seconds=2, auto_hide=True)
    assert toast.findChild(QTimer).isActive() and manager.auto_hide_ms == 2000


def test_toasts_follow_a_dark_palette(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    original = app.palette()
    toast = Toast(notice("x", Priority.URGENT))
    qtbot.addWidget(toast)
    assert toast.theme is LIGHT
    try:
        dark = QPalette(original)
        dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
        dark.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))
        app.setPalette(dark)
        qtbot.waitUntil(lambda: toast.theme is DARK, timeout=2000)
        assert DARK.background in toast.styleSheet()
    finally:
        app.setPalette(original)
    qtbot.waitUntil(lambda: toast.theme is LIGHT, timeout=2000)


def test_urgent_toasts_have_an_accent_border() -> None:
    assert f"2px solid {ACCENTS[Priority.URGENT]}" in toast_style(LIGHT, Priority.URGENT)
    assert "2px solid" not in toast_style(LIGHT, Priority.NORMAL)
    assert LIGHT.quiet in toast_style(LIGHT, Priority.LOW)


def test_toasts_have_accessible_names(qtbot: QtBot) -> None:
    toast = Toast(notice("New order #A1", Priority.HIGH, body="2 × Mug"))
    qtbot.addWidget(toast)
    assert toast.accessibleName() == "high notification: New order #A1"
    assert toast.accessibleDescription() == "2 × Mug"
    assert toast.close_button.accessibleName() == "Dismiss notification"


def test_the_named_screen_or_the_primary_one() -> None:
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    assert available_geometry(None) == screen.availableGeometry()
    assert available_geometry(screen.name()) == screen.availableGeometry()
    assert available_geometry("unplugged-monitor") == screen.availableGeometry()
