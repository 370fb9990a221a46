"""The settings store and window: round trip, validation next to the field, live apply,
a damaged file, the device token, start on login, accessibility and the keyboard."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt, QTime
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.config.autostart import Autostart, AutostartError
from app.config.credentials import CredentialStoreUnavailable
from app.config.paths import app_paths
from app.config.settings import PAUSED_INDEFINITELY, Settings, load_settings
from app.ui.notifier import Notifier
from app.ui.settings.dialog import (
    PAGES,
    KeyringState,
    SettingsDialog,
    focusable_controls,
    keyring_state,
)
from app.ui.settings.store import SettingsStore, flatten
from app.ui.toasts import ToastManager

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
NO_KEYRING = KeyringState(False, "No system keyring is available on this computer …", True)
KEYRING = KeyringState(True, "The token is kept in the system keyring (Fake).", False)


class TokenRecorder:
    def __init__(self, error: Exception | None = None) -> None:
        self.saved: list[tuple[str, str]] = []
        self.error = error

    def __call__(self, wallet: str, token: str) -> None:
        if self.error is not None:
            raise self.error
        self.saved.append((wallet, token))


@pytest.fixture
def store(isolated_home: Path) -> SettingsStore:
    return SettingsStore(app_paths().settings_file)


@pytest.fixture
def make_dialog(
    qtbot: QtBot, store: SettingsStore
) -> Iterator[Callable[..., SettingsDialog]]:
    made: list[SettingsDialog] = []

    def make(**kwargs: Any) -> SettingsDialog:
        options: dict[str, Any] = {
            "keyring": lambda: NO_KEYRING,
            "save_token": TokenRecorder(),
            "has_token": lambda wallet: False,
            "autostart": Autostart(platform="linux", command=["/opt/sn/seller-notifier"]),
        }
        options.update(kwargs)
        dialog = SettingsDialog(options.pop("store", store), **options)
        qtbot.addWidget(dialog)
        made.append(dialog)
        return dialog

    yield make
    for dialog in made:
        dialog.disconnect_sources()


def type_into(qtbot: QtBot, edit: Any, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def choose(combo: Any, value: Any) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


# --- store ---------------------------------------------------------------------------


def test_store_emits_each_changed_key_and_saves(store: SettingsStore) -> None:
    keys: list[str] = []
    store.changed.connect(keys.append)
    assert store.set("notifications.position", "bottom-left") == ["notifications.position"]
    assert store.set("notifications.position", "bottom-left") == [], "no change, no signal"
    store.set("notifications.quiet_hours.days", [5, 6, 5])
    assert keys == ["notifications.position", "notifications.quiet_hours.days"]
    saved = json.loads(store.path.read_text())
    assert saved["notifications"]["position"] == "bottom-left"
    assert saved["notifications"]["quiet_hours"]["days"] == [5, 6]
    assert store.value("notifications.quiet_hours.days") == [5, 6]


def test_store_refuses_bad_values_and_unknown_keys(store: SettingsStore) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        store.set("notifications.max_visible", 0)
    with pytest.raises(KeyError):
        store.set("notifications.colour", "red")
    assert store.settings == Settings() and not store.path.exists()


def test_damaged_file_is_put_aside_with_a_notice(isolated_home: Path) -> None:
    path = app_paths().settings_file
    path.parent.mkdir(parents=True)
    path.write_text('{"notifications": {"max_visible": "many"}}')
    store, notice = SettingsStore.load(path)
    assert notice is not None and "notifications.max_visible" in notice
    assert store.settings == Settings()
    assert not path.exists()
    (aside,) = path.parent.glob("settings.damaged-*.json")
    assert "many" in aside.read_text()
    store.set("notifications.max_visible", 2)
    assert load_settings(path).settings.notifications.max_visible == 2


def test_every_setting_has_a_dotted_key() -> None:
    keys = flatten(Settings().model_dump(mode="json"))
    assert "notifications.sounds.payment_received" in keys
    assert "notifications.quiet_hours.start" in keys
    assert "connection.server_url" in keys and "debug" in keys


# --- round trip through the window ---------------------------------------------------------


def test_round_trip_through_the_window(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore, qtbot: QtBot
) -> None:
    dialog = make_dialog()
    type_into(qtbot, dialog.server_url, "wss://gw.example.com")
    type_into(qtbot, dialog.wallet, WALLET.lower())
    choose(dialog.position, "bottom-left")
    choose(dialog.adapter, "native")
    dialog.max_visible.setValue(2)
    dialog.auto_hide.setChecked(False)
    dialog.duration.setValue(15)
    type_into(qtbot, dialog.order_link, "https://market.example/orders/{orderId}")
    dialog.type_switches["analytics_update"].setChecked(False)
    choose(dialog.min_priority, "high")
    type_into(qtbot, dialog.min_amount, "25.50")
    dialog.quiet_enabled.setChecked(True)
    dialog.quiet_start.setTime(QTime(21, 30))
    dialog.quiet_end.setTime(QTime(6, 45))
    dialog.quiet_days[5].setChecked(False)
    dialog.quiet_days[6].setChecked(False)
    dialog.sound_enabled.setChecked(False)
    dialog.volume.setValue(35)
    choose(dialog.sound_choices["review_received"], "off")
    dialog.debug.setChecked(True)

    loaded = load_settings(store.path)
    assert loaded.notice is None
    settings = loaded.settings
    assert settings == store.settings
    assert settings.connection.server_url == "wss://gw.example.com"
    assert settings.connection.wallet == WALLET, "checksummed"
    assert dialog.wallet.text() == WALLET, "the field shows the checksummed form"
    n = settings.notifications
    assert (n.position, n.adapter) == ("bottom-left", "native")
    assert (n.max_visible, n.auto_hide) == (2, False)
    assert n.auto_hide_seconds == 15
    assert n.order_url_template == "https://market.example/orders/{orderId}"
    assert not n.types.analytics_update and n.types.new_order
    assert n.min_priority == "high" and str(n.min_order_amount) == "25.50"
    assert n.quiet_hours.enabled and n.quiet_hours.days == (0, 1, 2, 3, 4)
    assert (n.quiet_hours.start.isoformat(), n.quiet_hours.end.isoformat()) == (
        "21:30:00",
        "06:45:00",
    )
    assert not n.sound_enabled and n.sounds.volume == 35 and n.sounds.review_received == "off"
    assert settings.debug

    again = make_dialog(store=SettingsStore(store.path, settings))
    assert again.position.currentData() == "bottom-left"
    assert again.min_amount.text() == "25.50"
    assert again.quiet_start.time() == QTime(21, 30)
    assert [c.isChecked() for c in again.quiet_days] == [True] * 5 + [False] * 2
    assert again.sound_choices["review_received"].currentData() == "off"
    assert again.volume.value() == 35 and again.volume_value.text() == "35 %"


@pytest.mark.parametrize(
    ("field", "key", "text", "message"),
    [
        ("server_url", "connection.server_url", "http://gw.example.com", "expected ws://"),
        ("wallet", "connection.wallet", "0x123", "wallet"),
        ("min_amount", "notifications.min_order_amount", "-5", "greater than or equal to 0"),
        ("min_amount", "notifications.min_order_amount", "lots", "decimal"),
        ("order_link", "notifications.order_url_template", "https://m.example/o", "{orderId}"),
        ("order_link", "notifications.order_url_template", "ftp://m/{orderId}", "https://"),
    ],
)
def test_bad_values_are_explained_next_to_the_field(
    make_dialog: Callable[..., SettingsDialog],
    store: SettingsStore,
    qtbot: QtBot,
    field: str,
    key: str,
    text: str,
    message: str,
) -> None:
    dialog = make_dialog()
    before = store.settings
    type_into(qtbot, getattr(dialog, field), text)
    assert message.lower() in dialog.error_for(key).lower()
    assert store.settings == before and not store.path.exists(), "nothing applied or saved"
    # Correcting the value clears the message.
    good = {"server_url": "ws://127.0.0.1:8765", "wallet": WALLET, "min_amount": "5",
            "order_link": "https://m.example/o/{orderId}"}[field]  # fmt: skip
    type_into(qtbot, getattr(dialog, field), good)
    assert dialog.error_for(key) == ""
    assert store.path.exists()


def test_quiet_hours_must_not_be_empty(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore
) -> None:
    dialog = make_dialog()
    dialog.quiet_end.setTime(QTime(22, 0))
    assert "another time" in dialog.error_for("notifications.quiet_hours.end")
    assert store.settings.notifications.quiet_hours.end.hour == 7


# --- live -------------------------------------------------------------------------------


def test_changes_apply_live(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore, qtbot: QtBot
) -> None:
    toasts = ToastManager(screen_geometry=lambda: QRect(0, 0, 1000, 800))
    notifier = Notifier(toasts, screen_geometry=lambda _name: QRect(0, 0, 1000, 800))
    notifier.follow(store)
    dialog = make_dialog(notifier=notifier)
    keys: list[str] = []
    store.changed.connect(keys.append)
    choose(dialog.position, "top-left")
    dialog.max_visible.setValue(1)
    assert keys == ["notifications.position", "notifications.max_visible"]
    assert toasts.position == "top-left" and toasts.max_visible == 1

    dialog.test_button.click()
    assert dialog.test_result.text() == "Sent as: In-app toasts."
    (toast,) = toasts.visible_toasts
    assert toast.x() == 16 and toast.y() == 16
    notifier.close()
    toasts.close()


def test_the_window_follows_changes_made_elsewhere(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore
) -> None:
    dialog = make_dialog()
    assert dialog.pause_state.text() == "Notifications are on."
    assert not dialog.resume_button.isEnabled()
    store.set("notifications.paused_until", PAUSED_INDEFINITELY.isoformat())
    assert "until you resume" in dialog.pause_state.text()
    dialog.resume_button.click()
    assert store.settings.notifications.paused_until is None
    store.set("notifications.position", "bottom-right")
    assert dialog.position.currentData() == "bottom-right"


def test_the_window_says_why_another_adapter_is_used(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore
) -> None:
    from test_notifier import RecordingAdapter

    toasts = ToastManager(screen_geometry=lambda: QRect(0, 0, 1000, 800))
    native = RecordingAdapter("native", problem="no notification service is running")
    from app.ui.toasts.adapter import InAppAdapter

    notifier = Notifier(toasts, adapters=[InAppAdapter(toasts), native])
    notifier.follow(store)
    dialog = make_dialog(notifier=notifier)
    choose(dialog.adapter, "native")
    assert dialog.adapter_state.text() == (
        "Desktop notifications cannot be used here: no notification service is running.\n"
        "In use: In-app toasts."
    )
    notifier.close()
    toasts.close()


# --- device token, start on login, sound preview -----------------------------------------


def test_no_keyring_is_a_clear_warning(make_dialog: Callable[..., SettingsDialog]) -> None:
    dialog = make_dialog()
    assert "No system keyring" in dialog.token_state.text()
    assert not dialog.save_token_button.isEnabled()


def test_saving_the_token(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore, qtbot: QtBot
) -> None:
    recorder = TokenRecorder()
    dialog = make_dialog(keyring=lambda: KEYRING, save_token=recorder)
    keys: list[str] = []
    store.changed.connect(keys.append)
    qtbot.keyClicks(dialog.token, "tok-123")
    dialog.save_token_button.click()
    assert "wallet address first" in dialog.error_for("connection.token")
    assert recorder.saved == []

    type_into(qtbot, dialog.wallet, WALLET)
    dialog.token.clear()
    qtbot.keyClicks(dialog.token, "tok-123")
    qtbot.keyClick(dialog.token, Qt.Key.Key_Return)
    assert recorder.saved == [(WALLET, "tok-123")]
    assert dialog.token.text() == "" and dialog.error_for("connection.token") == ""
    assert keys[-1] == "connection.token", "the app reconnects with it"
    assert "tok-123" not in store.path.read_text()


def test_a_keyring_that_refuses_is_explained(
    make_dialog: Callable[..., SettingsDialog], store: SettingsStore, qtbot: QtBot
) -> None:
    recorder = TokenRecorder(CredentialStoreUnavailable("the keyring refused to store it"))
    dialog = make_dialog(keyring=lambda: KEYRING, save_token=recorder)
    store.set("connection.wallet", WALLET)
    qtbot.keyClicks(dialog.token, "tok")
    dialog.save_token_button.click()
    assert dialog.error_for("connection.token") == "The keyring refused to store it."


def test_the_real_keyring_state_on_this_machine() -> None:
    state = keyring_state()
    assert state.message and (state.usable or state.warning)


def test_start_on_login(
    make_dialog: Callable[..., SettingsDialog], isolated_home: Path
) -> None:
    dialog = make_dialog()
    entry = isolated_home / "autostart" / "seller-notifier.desktop"
    assert not dialog.start_on_login.isChecked()
    dialog.start_on_login.setChecked(True)
    assert entry.is_file() and "Exec=/opt/sn/seller-notifier" in entry.read_text()
    dialog.start_on_login.setChecked(False)
    assert not entry.exists()


def test_start_on_login_failure_is_shown(make_dialog: Callable[..., SettingsDialog]) -> None:
    class Refusing(Autostart):
        def set_enabled(self, enabled: bool) -> None:
            raise AutostartError("could not change start on login (read-only file system)")

    dialog = make_dialog(autostart=Refusing(platform="linux"))
    dialog.start_on_login.setChecked(True)
    assert not dialog.start_on_login.isChecked()
    assert "Read-only" not in dialog.error_for("autostart")
    assert dialog.error_for("autostart").startswith("Could not change start on login")


def test_sound_preview_and_problem(make_dialog: Callable[..., SettingsDialog]) -> None:
    played: list[tuple[str, float]] = []

    def play(name: str, volume: float) -> bool:
        played.append((name, volume))
        return False

    dialog = make_dialog(play_sound=play, sound_problem=lambda: "no audio output device")
    dialog.volume.setValue(50)
    dialog.preview_buttons["payment_received"].click()
    assert played == [("payment", 0.5)]
    assert dialog.sound_state.text() == "Sounds cannot play here: no audio output device."


# --- first run, keyboard, accessibility ------------------------------------------------------


def test_first_run_opens_the_connection_page(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot
) -> None:
    dialog = make_dialog()
    dialog.tabs.setCurrentIndex(3)
    dialog.set_first_run(True)
    dialog.show_page("connection")
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.tabs.currentIndex() == 0
    assert dialog.first_run_banner.isVisible()
    assert "--demo" in dialog.first_run_banner.text()


def test_every_control_has_an_accessible_name(
    make_dialog: Callable[..., SettingsDialog],
) -> None:
    dialog = make_dialog()
    controls = focusable_controls(dialog)
    assert len(controls) > 40
    unnamed = [type(w).__name__ + ":" + w.objectName() for w in controls if not w.accessibleName()]
    assert unnamed == []


def test_every_field_has_a_mnemonic_and_none_clash(
    make_dialog: Callable[..., SettingsDialog],
) -> None:
    dialog = make_dialog()
    for index in range(dialog.tabs.count()):
        page = dialog.tabs.widget(index)
        letters: list[str] = []
        for widget in page.findChildren(QWidget):
            text = widget.text() if hasattr(widget, "text") else ""
            if isinstance(widget, QLabel) and widget.buddy() is None:
                continue
            if isinstance(text, str) and "&" in text.replace("&&", ""):
                letters.append(text[text.index("&") + 1].lower())
            elif isinstance(widget, QLabel):
                pytest.fail(f"label {text!r} on page {PAGES[index]} has no mnemonic")
        assert len(letters) == len(set(letters)), f"{PAGES[index]}: {sorted(letters)}"


def test_the_keyboard_alone_reaches_every_field(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot
) -> None:
    dialog = make_dialog()
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    dialog.show_page("connection")
    qtbot.waitUntil(lambda: dialog.server_url.hasFocus(), timeout=2000)
    qtbot.keyClick(dialog, Qt.Key.Key_W, Qt.KeyboardModifier.AltModifier)
    assert dialog.wallet.hasFocus(), "Alt+W: the wallet field"

    # Tab walks the page in visual order and comes back round.
    dialog.server_url.setFocus()
    seen = []
    for _ in range(8):
        seen.append(QApplication.focusWidget())
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert seen[:3] == [dialog.server_url, dialog.wallet, dialog.token]

    qtbot.keyClick(dialog.tabs, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert dialog.tabs.currentIndex() == 1, "Ctrl+Tab: the next page"
    qtbot.keyClick(dialog, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    assert dialog.position.hasFocus()


def test_the_old_constructor_still_names_the_file(qtbot: QtBot, isolated_home: Path) -> None:
    path = app_paths().settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"notifications": {"position": "top-left"}}))
    dialog = SettingsDialog(path, keyring=lambda: NO_KEYRING, has_token=lambda w: False)
    qtbot.addWidget(dialog)
    assert str(path) in dialog.text.text() and "--demo" in dialog.text.text()
    assert dialog.position.currentData() == "top-left"
