"""The Settings window: every option, validated next to its field, applied at once.

Five pages — Connection, Notifications, Filters, Sound, General — built from
plain Qt form widgets. Each widget is bound to one dotted settings key: a change
is validated by the pydantic model (a refusal is shown next to the field and
nothing changes) and otherwise goes straight to the :class:`SettingsStore`,
whose ``changed`` signal makes the rest of the app follow. There is no OK
button: closing the window keeps what was applied.

Keyboard: every field has a mnemonic on its label (Alt+letter), Tab follows
the visual order, Ctrl+Tab / Ctrl+Shift+Tab switch pages, Esc closes. Every
control has an accessible name.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError
from PySide6.QtCore import QObject, Qt, QTime, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.client.refusals import InsecureConnection, refuse_insecure
from app.config import credentials
from app.config.autostart import Autostart, AutostartError
from app.config.paths import app_paths
from app.config.settings import PAUSED_INDEFINITELY
from app.domain.notices import short_hash
from app.ui.icons import svg_icon
from app.ui.notifier import ADAPTER_LABELS, Notifier
from app.ui.settings.store import SettingsStore, error_messages, with_value

if TYPE_CHECKING:
    from app.client.siwe import SignedIn, SignInRequest

log = logging.getLogger("seller_notifier.ui")

PAGES: Final = ("connection", "notifications", "filters", "sound", "general")

CORNER_LABELS: Final = {
    "top-right": "Top right",
    "top-left": "Top left",
    "bottom-right": "Bottom right",
    "bottom-left": "Bottom left",
}
PRIORITY_LABELS: Final = {
    "low": "Low (everything)",
    "normal": "Normal",
    "high": "High",
    "urgent": "Urgent only",
}
TYPE_LABELS: Final = {
    "new_order": "&New orders",
    "order_status_changed": "Order &updates (paid, shipped, refunded …)",
    "payment_received": "Pa&yments",
    "review_received": "Re&views",
    "tier_upgraded": "&Tier upgrades",
    "analytics_update": "Ana&lytics",
    "other": "Ot&her marketplace events",
}
SOUND_LABELS: Final = {
    "off": "Off",
    "new-order": "New order chime",
    "payment": "Ka-ching",
    "review": "Review bell",
    "tier-upgrade": "Tier fanfare",
}
SOUND_ROWS: Final = {
    "new_order": "&New orders:",
    "payment_received": "Pa&yments:",
    "review_received": "Re&views:",
    "tier_upgraded": "&Tier upgrades:",
}
DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

FIRST_RUN_TEXT: Final = (
    "Seller Notifier is not connected yet. Enter your gateway's address, your wallet "
    "and the device token your marketplace gave you. To look around first, quit and "
    "run: seller-notifier --demo"
)

SIGN_IN_TEXT: Final = (
    "Sign this message in your own wallet (e.g. MetaMask: personal_sign) and paste the "
    "signature. Seller Notifier never asks for your private key."
)
START_AGAIN: Final = "press “Sign in with wallet…” to get a new message"


@dataclass(frozen=True)
class KeyringState:
    """Whether a device token can be stored, and what to tell the seller about it."""

    usable: bool
    message: str
    warning: bool


def keyring_state() -> KeyringState:
    """What the ``keyring`` library offers on this machine."""
    import keyring

    backend = keyring.get_keyring()
    name = type(backend).__name__
    module = type(backend).__module__
    priority = getattr(backend, "priority", 0) or 0
    if priority <= 0:
        return KeyringState(
            False,
            "No system keyring is available on this computer, so the device token cannot "
            f"be saved here. Set {credentials.TOKEN_ENV} in the environment that starts "
            "Seller Notifier instead.",
            True,
        )
    if "plaintext" in name.lower() or module.startswith("keyrings.alt"):
        return KeyringState(
            True,
            "Only a plain-file keyring is available: the token would be stored unencrypted "
            "in your home folder. Install a system keyring (GNOME Keyring, KWallet) to keep "
            "it safe.",
            True,
        )
    return KeyringState(True, f"The token is kept in the system keyring ({name}).", False)


def plain(text: str) -> str:
    """A label's text without its mnemonic marker and trailing colon."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(":").strip()


class SettingsDialog(QDialog):
    """The settings window over a :class:`SettingsStore`.

    ``store``: the live settings (or a settings file's path, which is loaded).
    ``notifier``: for "Send test notification" and the adapter report;
    ``play_sound(name, volume)``: previews a sound; ``sound_problem()``: why
    sounds cannot play; ``autostart``: start-on-login; ``keyring``,
    ``save_token``, ``has_token``: the device token's storage (seams for tests);
    ``keep_token``: where a signed-in token goes when no keyring takes it (memory).

    "Sign in with wallet…" runs on the asyncio (qasync) loop; ``sign_in_changed``
    says how it went: ``requested`` (the message is shown), ``signed-in`` (the
    token is kept and ``connection.token`` announced), ``failed`` (the reason is
    next to the field).
    """

    sign_in_changed = Signal(str)

    def __init__(
        self,
        store: SettingsStore | Path,
        parent: QWidget | None = None,
        *,
        notifier: Notifier | None = None,
        play_sound: Callable[[str, float], bool] | None = None,
        sound_problem: Callable[[], str | None] | None = None,
        autostart: Autostart | None = None,
        keyring: Callable[[], KeyringState] = keyring_state,
        save_token: Callable[[str, str], None] = credentials.save_token,
        has_token: Callable[[str], bool] | None = None,
        keep_token: Callable[[str, str], None] = credentials.keep_for_session,
        log_file: Path | None = None,
    ) -> None:
        super().__init__(parent)
        if isinstance(store, Path):
            store, _notice = SettingsStore.load(store, self)
        self.store = store
        self._notifier = notifier
        self._play_sound = play_sound
        self._sound_problem = sound_problem
        self._autostart = autostart if autostart is not None else Autostart()
        self._keyring = keyring
        self._save_token = save_token
        self._has_token = has_token if has_token is not None else _token_stored
        self._keep_token = keep_token
        self.sign_in_request: SignInRequest | None = None
        """The message waiting for the seller's signature, if any."""
        self._sign_in_tasks: set[asyncio.Task[None]] = set()
        self._log_file = log_file if log_file is not None else app_paths().log_file
        self._loaders: dict[str, Callable[[Any], None]] = {}
        self._errors: dict[str, QLabel] = {}
        self.setWindowTitle("Seller Notifier — Settings")
        self.setWindowIcon(svg_icon("seller-notifier"))
        self.setAccessibleName("Seller Notifier settings")

        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Settings pages")
        # No mnemonics on the tabs (Ctrl+Tab switches pages): every letter is
        # kept for the fields, and a tab's letter would work from every page.
        self.tabs.addTab(self._connection_page(), "Connection")
        self.tabs.addTab(self._notifications_page(), "Notifications")
        self.tabs.addTab(self._filters_page(), "Filters")
        self.tabs.addTab(self._sound_page(), "Sound")
        self.tabs.addTab(self._general_page(), "General")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.close)
        close = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close settings")

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)
        self.resize(560, 520)

        store.changed.connect(self._store_changed)
        store.save_failed.connect(self._save_failed)
        if notifier is not None:
            notifier.adapters_changed.connect(self._refresh_adapters)
        self._load_all()
        self._refresh_adapters()
        self._refresh_token_state()

    # --- public ---------------------------------------------------------------------

    def show_page(self, name: str) -> None:
        """Switch to page ``name`` (one of ``PAGES``) and focus its first field."""
        index = PAGES.index(name)
        self.tabs.setCurrentIndex(index)
        page = self.tabs.widget(index)
        if page is not None:
            page.focusNextChild()

    def set_first_run(self, first_run: bool) -> None:
        """Show (or hide) the "not connected yet" explanation on the Connection page."""
        self.first_run_banner.setVisible(first_run)

    def error_for(self, key: str) -> str:
        """The message shown next to the field of ``key`` ("" when it is fine)."""
        label = self._errors.get(key)
        return label.text() if label is not None and not label.isHidden() else ""

    def disconnect_sources(self) -> None:
        """Stop listening to the store and the notifier (before either goes away)."""
        for signal, slot in (
            (self.store.changed, self._store_changed),
            (self.store.save_failed, self._save_failed),
        ):
            _disconnect(signal, slot)
        if self._notifier is not None:
            _disconnect(self._notifier.adapters_changed, self._refresh_adapters)
        for task in self._sign_in_tasks:
            task.cancel()  # its answer would go to a window that is going away

    # --- pages ----------------------------------------------------------------------

    def _connection_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.first_run_banner = QLabel(FIRST_RUN_TEXT, page)
        self.first_run_banner.setWordWrap(True)
        self.first_run_banner.setObjectName("firstRunBanner")
        self.first_run_banner.setStyleSheet(
            "QLabel#firstRunBanner { border: 1px solid palette(mid); padding: 8px; }"
        )
        self.first_run_banner.setVisible(False)
        box.addWidget(self.first_run_banner)
        form = QFormLayout()
        box.addLayout(form)

        self.server_url = QLineEdit(page)
        self.server_url.setPlaceholderText("wss://gateway.example.com")
        self._row(form, "&Server URL:", self.server_url, "connection.server_url")
        self._bind_text("connection.server_url", self.server_url)

        self.wallet = QLineEdit(page)
        self.wallet.setPlaceholderText("0x…")
        self._row(form, "&Wallet address:", self.wallet, "connection.wallet")
        self._bind_text("connection.wallet", self.wallet)

        self.token = QLineEdit(page)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("paste the device token")
        self.save_token_button = QPushButton("Save to&ken", page)
        self.save_token_button.setAccessibleName("Save device token")
        self.save_token_button.clicked.connect(self._store_token)
        self.token.returnPressed.connect(self._store_token)
        row = QHBoxLayout()
        row.addWidget(self.token, 1)
        row.addWidget(self.save_token_button)
        label = self._row(form, "Device t&oken:", row, "connection.token")
        label.setBuddy(self.token)
        self.token.setAccessibleName("Device token")
        self.token_state = QLabel(page)
        self.token_state.setWordWrap(True)
        self.token_state.setObjectName("tokenState")
        form.addRow("", self.token_state)

        self.allow_insecure = QCheckBox(
            "Allow &unencrypted ws:// to another computer — only on a network you trust", page
        )
        self._name(self.allow_insecure, "Allow unencrypted ws:// to another computer")
        self._bind_check("connection.allow_insecure", self.allow_insecure)
        form.addRow("", self.allow_insecure)
        self._sign_in_section(page, form)

        # Kept from the first version of this window: where the file is, and --demo.
        self.text = QLabel(
            f"Settings file: {self.store.path}\n"
            "To try Seller Notifier without an account, run: seller-notifier --demo",
            page,
        )
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        box.addStretch(1)
        box.addWidget(self.text)
        return page

    def _sign_in_section(self, page: QWidget, form: QFormLayout) -> None:
        self.sign_in_button = QPushButton("Sign &in with wallet…", page)
        self.sign_in_button.setAccessibleName("Sign in with wallet")
        self.sign_in_button.clicked.connect(self._begin_sign_in)
        column = QVBoxLayout()
        column.addWidget(self.sign_in_button, 0, Qt.AlignmentFlag.AlignLeft)
        self._errors["connection.sign_in"] = self._error_label(page)
        column.addWidget(self._errors["connection.sign_in"])
        form.addRow("", column)

        self.sign_in_panel = QGroupBox("Wallet sign-in", page)
        panel = QVBoxLayout(self.sign_in_panel)
        intro = QLabel(SIGN_IN_TEXT, self.sign_in_panel)
        intro.setWordWrap(True)
        panel.addWidget(intro)
        self.sign_in_message = QPlainTextEdit(self.sign_in_panel)
        # Read-only still selects and copies, with the mouse and the keyboard.
        self.sign_in_message.setReadOnly(True)
        self.sign_in_message.setTabChangesFocus(True)
        self.sign_in_message.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.sign_in_message.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.sign_in_message.setAccessibleName("Message to sign")
        self.sign_in_message.setMinimumHeight(120)
        panel.addWidget(self.sign_in_message)
        copy_row = QHBoxLayout()
        self.copy_message_button = QPushButton("&Copy message", self.sign_in_panel)
        self.copy_message_button.setAccessibleName("Copy message")
        self.copy_message_button.clicked.connect(self._copy_sign_in_message)
        self.sign_in_expiry = QLabel(self.sign_in_panel)
        self.sign_in_expiry.setWordWrap(True)
        copy_row.addWidget(self.copy_message_button)
        copy_row.addWidget(self.sign_in_expiry, 1)
        panel.addLayout(copy_row)
        fields = QFormLayout()
        panel.addLayout(fields)
        self.signature = QLineEdit(self.sign_in_panel)
        self.signature.setPlaceholderText("0x + 130 hexadecimal digits")
        self.finish_sign_in_button = QPushButton("Sig&n in", self.sign_in_panel)
        self.finish_sign_in_button.setAccessibleName("Sign in")
        self.finish_sign_in_button.clicked.connect(self._finish_sign_in)
        self.signature.returnPressed.connect(self._finish_sign_in)
        row = QHBoxLayout()
        row.addWidget(self.signature, 1)
        row.addWidget(self.finish_sign_in_button)
        label = self._row(fields, "Si&gnature:", row, "connection.signature")
        label.setBuddy(self.signature)
        self.signature.setAccessibleName("Signature")
        self.sign_in_panel.setVisible(False)
        form.addRow(self.sign_in_panel)

        self.sign_in_result = QLabel(page)
        self.sign_in_result.setObjectName("signInResult")
        self.sign_in_result.setWordWrap(True)
        self.sign_in_result.setVisible(False)
        form.addRow("", self.sign_in_result)

    def _notifications_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        form = QFormLayout()
        box.addLayout(form)

        self.adapter = QComboBox(page)
        self._fill_combo(self.adapter, list(ADAPTER_LABELS.items()))
        self._row(form, "&Show as:", self.adapter, "notifications.adapter")
        self._bind_combo("notifications.adapter", self.adapter)
        self.adapter_state = QLabel(page)
        self.adapter_state.setObjectName("adapterState")
        self.adapter_state.setWordWrap(True)
        form.addRow("", self.adapter_state)

        self.position = QComboBox(page)
        self._fill_combo(self.position, list(CORNER_LABELS.items()))
        self._row(form, "&Position:", self.position, "notifications.position")
        self._bind_combo("notifications.position", self.position)

        self.screen_choice = QComboBox(page)
        screens: list[tuple[Any, str]] = [(None, "Primary screen")]
        screens += [(s.name(), f"{s.name()} ({s.size().width()}×{s.size().height()})")
                    for s in QGuiApplication.screens()]  # fmt: skip
        self._fill_combo(self.screen_choice, screens)
        self._row(form, "Scr&een:", self.screen_choice, "notifications.screen")
        self._bind_combo("notifications.screen", self.screen_choice)

        self.max_visible = QSpinBox(page)
        self.max_visible.setRange(1, 10)
        self._row(form, "&Max. on screen:", self.max_visible, "notifications.max_visible")
        self._bind_spin("notifications.max_visible", self.max_visible)

        self.auto_hide = QCheckBox("&Hide by themselves (urgent ones always stay)", page)
        form.addRow("", self.auto_hide)
        self._name(self.auto_hide, "Hide notifications by themselves")
        self._bind_check("notifications.auto_hide", self.auto_hide)

        self.duration = QDoubleSpinBox(page)
        self.duration.setRange(1, 600)
        self.duration.setDecimals(0)
        self.duration.setSuffix(" s")
        self._row(form, "Hide a&fter:", self.duration, "notifications.auto_hide_seconds")
        self._bind_spin("notifications.auto_hide_seconds", self.duration)

        self.order_link = QLineEdit(page)
        self.order_link.setPlaceholderText("https://market.example/orders/{orderId}")
        self._row(form, "Order &link:", self.order_link, "notifications.order_url_template")
        self._bind_text("notifications.order_url_template", self.order_link)
        hint = QLabel(
            "Clicking a notification about an order opens this page; {orderId} is replaced "
            "by the order number. Empty: the dashboard opens.",
            page,
        )
        hint.setWordWrap(True)
        form.addRow("", hint)

        self.test_button = QPushButton("Send &test notification", page)
        self.test_button.setAccessibleName("Send test notification")
        self.test_button.clicked.connect(self._send_test)
        self.test_button.setEnabled(self._notifier is not None)
        self.test_result = QLabel(page)
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        box.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignLeft)
        box.addWidget(self.test_result)
        box.addStretch(1)
        return page

    def _filters_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        types = QGroupBox("Notify me about", page)
        types_box = QVBoxLayout(types)
        self.type_switches: dict[str, QCheckBox] = {}
        for kind, text in TYPE_LABELS.items():
            check = QCheckBox(text, types)
            self._name(check, f"Notify about {plain(text).lower()}")
            types_box.addWidget(check)
            self.type_switches[kind] = check
            self._bind_check(f"notifications.types.{kind}", check)
        box.addWidget(types)

        form = QFormLayout()
        box.addLayout(form)
        self.min_priority = QComboBox(page)
        self._fill_combo(self.min_priority, list(PRIORITY_LABELS.items()))
        self._row(form, "Minimum &priority:", self.min_priority, "notifications.min_priority")
        self._bind_combo("notifications.min_priority", self.min_priority)

        self.min_amount = QLineEdit(page)
        self.min_amount.setPlaceholderText("no minimum")
        self._row(
            form, "Minimum order &amount:", self.min_amount, "notifications.min_order_amount"
        )
        self._bind_text("notifications.min_order_amount", self.min_amount)

        quiet = QGroupBox("Quiet hours", page)
        quiet_form = QFormLayout(quiet)
        self.quiet_enabled = QCheckBox("&Quiet hours: only urgent notifications show", quiet)
        self._name(self.quiet_enabled, "Quiet hours")
        quiet_form.addRow(self.quiet_enabled)
        self._bind_check("notifications.quiet_hours.enabled", self.quiet_enabled)
        self.quiet_start = QTimeEdit(quiet)
        self.quiet_start.setDisplayFormat("HH:mm")
        self._row(quiet_form, "Fro&m:", self.quiet_start, "notifications.quiet_hours.start")
        self._bind_time("notifications.quiet_hours.start", self.quiet_start)
        self.quiet_end = QTimeEdit(quiet)
        self.quiet_end.setDisplayFormat("HH:mm")
        self._row(quiet_form, "T&o:", self.quiet_end, "notifications.quiet_hours.end")
        self._bind_time("notifications.quiet_hours.end", self.quiet_end)
        days_row = QHBoxLayout()
        self.quiet_days: list[QCheckBox] = []
        for day in DAY_NAMES:
            check = QCheckBox(day, quiet)
            self._name(check, f"Quiet hours on {day}")
            days_row.addWidget(check)
            self.quiet_days.append(check)
            check.toggled.connect(self._days_toggled)
        days_label = self._row(quiet_form, "&Days:", days_row, "notifications.quiet_hours.days")
        days_label.setBuddy(self.quiet_days[0])
        self._loaders["notifications.quiet_hours.days"] = self._load_days
        box.addWidget(quiet)

        pause_row = QHBoxLayout()
        self.pause_state = QLabel(page)
        self.pause_state.setObjectName("pauseState")
        self.resume_button = QPushButton("&Resume notifications", page)
        self.resume_button.setAccessibleName("Resume notifications")
        self.resume_button.clicked.connect(self._resume)
        pause_row.addWidget(self.pause_state, 1)
        pause_row.addWidget(self.resume_button)
        box.addLayout(pause_row)
        self._loaders["notifications.paused_until"] = self._load_pause
        box.addStretch(1)
        return page

    def _sound_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.sound_enabled = QCheckBox("&Play sounds", page)
        self._name(self.sound_enabled, "Play sounds")
        box.addWidget(self.sound_enabled)
        self._bind_check("notifications.sound_enabled", self.sound_enabled)

        form = QFormLayout()
        box.addLayout(form)
        volume_row = QHBoxLayout()
        self.volume = QSlider(Qt.Orientation.Horizontal, page)
        self.volume.setRange(0, 100)
        self.volume.setPageStep(10)
        self.volume_value = QLabel(page)
        volume_row.addWidget(self.volume, 1)
        volume_row.addWidget(self.volume_value)
        label = self._row(form, "Vol&ume:", volume_row, "notifications.sounds.volume")
        label.setBuddy(self.volume)
        self._name(self.volume, "Volume")
        self.volume.valueChanged.connect(lambda v: self.volume_value.setText(f"{v} %"))
        self.volume.sliderReleased.connect(self._volume_released)
        self.volume.valueChanged.connect(self._volume_moved)
        self._loaders["notifications.sounds.volume"] = self._load_volume

        self.sound_choices: dict[str, QComboBox] = {}
        self.preview_buttons: dict[str, QPushButton] = {}
        for kind, text in SOUND_ROWS.items():
            combo = QComboBox(page)
            self._fill_combo(combo, list(SOUND_LABELS.items()))
            preview = QPushButton("Play", page)
            preview.setAccessibleName(f"Play the sound for {plain(text).lower()}")
            preview.clicked.connect(lambda _checked=False, c=combo: self._preview(c))
            row = QHBoxLayout()
            row.addWidget(combo, 1)
            row.addWidget(preview)
            key = f"notifications.sounds.{kind}"
            row_label = self._row(form, text, row, key)
            row_label.setBuddy(combo)
            self._name(combo, f"Sound for {plain(text).lower()}")
            self._bind_combo(key, combo)
            self.sound_choices[kind] = combo
            self.preview_buttons[kind] = preview
        note = QLabel(
            "Never for refunds, cancellations, free orders or events replayed after a "
            "disconnection; a burst of events plays one sound.",
            page,
        )
        note.setWordWrap(True)
        box.addWidget(note)
        self.sound_state = QLabel(page)
        self.sound_state.setObjectName("soundState")
        self.sound_state.setWordWrap(True)
        box.addWidget(self.sound_state)
        box.addStretch(1)
        self._refresh_sound_state()
        return page

    def _general_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.start_on_login = QCheckBox("Start Seller Notifier when I &log in", page)
        self._name(self.start_on_login, "Start on login")
        self.start_on_login.setChecked(self._autostart.is_enabled())
        self.start_on_login.toggled.connect(self._autostart_toggled)
        box.addWidget(self.start_on_login)
        where = QLabel(f"Kept in: {self._autostart.describe()}", page)
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(where)
        self._errors["autostart"] = self._error_label(page)
        box.addWidget(self._errors["autostart"])

        self.debug = QCheckBox("&Debug logging (also: seller-notifier --debug)", page)
        self._name(self.debug, "Debug logging")
        self._bind_check("debug", self.debug)
        box.addWidget(self.debug)
        log_file = QLabel(f"Log file: {self._log_file}", page)
        log_file.setWordWrap(True)
        log_file.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(log_file)
        self.save_state = QLabel(page)
        self.save_state.setObjectName("saveState")
        self.save_state.setWordWrap(True)
        box.addWidget(self.save_state)
        box.addStretch(1)
        return page

    # --- building blocks --------------------------------------------------------------

    def _row(self, form: QFormLayout, text: str, field: QWidget | QHBoxLayout, key: str) -> QLabel:
        label = QLabel(text)
        error = self._error_label(None)
        self._errors[key] = error
        column = QVBoxLayout()
        column.setSpacing(2)
        if isinstance(field, QWidget):
            column.addWidget(field)
            label.setBuddy(field)
            self._name(field, plain(text))
        else:
            column.addLayout(field)
        column.addWidget(error)
        form.addRow(label, column)
        return label

    def _error_label(self, parent: QWidget | None) -> QLabel:
        error = QLabel(parent)
        error.setObjectName("fieldError")
        error.setWordWrap(True)
        error.setTextFormat(Qt.TextFormat.PlainText)
        error.setStyleSheet("QLabel#fieldError { color: #c62828; }")
        error.setVisible(False)
        return error

    @staticmethod
    def _name(widget: QWidget, name: str) -> None:
        widget.setAccessibleName(name)

    @staticmethod
    def _fill_combo(combo: QComboBox, items: Sequence[tuple[Any, str]]) -> None:
        for value, text in items:
            combo.addItem(text, value)

    def _bind_check(self, key: str, check: QCheckBox) -> None:
        self._loaders[key] = lambda value: _quietly(check, lambda: check.setChecked(bool(value)))
        check.toggled.connect(lambda on: self._apply(key, on))

    def _bind_combo(self, key: str, combo: QComboBox) -> None:
        def load(value: Any) -> None:
            index = combo.findData(value)
            if index < 0 and value is not None:
                combo.addItem(f"{value} (not connected)", value)
                index = combo.count() - 1
            _quietly(combo, lambda: combo.setCurrentIndex(max(index, 0)))

        self._loaders[key] = load
        combo.currentIndexChanged.connect(lambda _i: self._apply(key, combo.currentData()))

    def _bind_spin(self, key: str, spin: QSpinBox | QDoubleSpinBox) -> None:
        self._loaders[key] = lambda value: _quietly(spin, lambda: spin.setValue(value))
        spin.valueChanged.connect(lambda value: self._apply(key, value))

    def _bind_text(self, key: str, edit: QLineEdit) -> None:
        self._loaders[key] = lambda value: _quietly(
            edit, lambda: edit.setText("" if value is None else str(value))
        )
        # Checked while typing, applied when the field is left or Enter is pressed.
        edit.textEdited.connect(lambda text: self._check(key, text.strip() or None))
        edit.editingFinished.connect(lambda: self._apply(key, edit.text().strip() or None))

    def _bind_time(self, key: str, edit: QTimeEdit) -> None:
        def load(value: Any) -> None:
            moment = time.fromisoformat(str(value))
            _quietly(edit, lambda: edit.setTime(QTime(moment.hour, moment.minute)))

        self._loaders[key] = load
        edit.timeChanged.connect(lambda t: self._apply(key, f"{t.hour():02d}:{t.minute():02d}"))

    # --- applying ---------------------------------------------------------------------

    def _check(self, key: str, value: Any) -> bool:
        try:
            with_value(self.store.settings, key, value)
        except ValidationError as exc:
            self._show_errors(key, error_messages(exc))
            return False
        self._show_errors(key, {})
        if key == "connection.server_url":
            self._show_insecure(value, self.store.settings.connection.allow_insecure)
        return True

    def _show_insecure(self, url: Any, allow_insecure: bool) -> None:
        """Say next to the URL that the client will refuse it (the setting still applies:
        ticking "Allow unencrypted" makes it usable)."""
        if not url:
            return
        try:
            refuse_insecure(str(url), allow_insecure=allow_insecure)
        except InsecureConnection as exc:
            self._show_errors("connection.server_url", {"connection.server_url": str(exc)})

    def _apply(self, key: str, value: Any) -> bool:
        """Validate ``key = value`` and apply it; a refusal is shown next to the field."""
        if not self._check(key, value):
            return False
        try:
            self.store.set(key, value)
        except ValidationError as exc:  # the store changed under us: show why
            self._show_errors(key, error_messages(exc))
            return False
        return True

    def _show_errors(self, key: str, messages: dict[str, str]) -> None:
        label = self._errors.get(key)
        if label is None:
            return
        text = next((m for k, m in messages.items() if k == key or k.startswith(key + ".")), "")
        if not text and messages:
            text = next(iter(messages.values()))
        label.setText(text)
        label.setVisible(bool(text))

    def _load_all(self) -> None:
        for key, load in self._loaders.items():
            load(self.store.value(key))
        connection = self.store.settings.connection
        self._show_insecure(connection.server_url, connection.allow_insecure)

    def _store_changed(self, key: str) -> None:
        load = self._loaders.get(key)
        if load is not None:
            load(self.store.value(key))
            self._show_errors(key, {})
        if key == "connection.wallet":
            self._refresh_token_state()
        if key in ("connection.server_url", "connection.allow_insecure"):
            connection = self.store.settings.connection
            self._show_errors("connection.server_url", {})
            self._show_insecure(connection.server_url, connection.allow_insecure)
        if key.startswith("notifications.adapter"):
            self._refresh_adapters()

    def _save_failed(self, message: str) -> None:
        self.save_state.setText(message)

    # --- special fields ---------------------------------------------------------------

    def _days_toggled(self) -> None:
        days = [index for index, check in enumerate(self.quiet_days) if check.isChecked()]
        self._apply("notifications.quiet_hours.days", days)

    def _load_days(self, value: Any) -> None:
        days = set(value or ())
        for index, check in enumerate(self.quiet_days):
            _quietly(check, partial(check.setChecked, index in days))

    def _load_volume(self, value: Any) -> None:
        self.volume_value.setText(f"{value} %")
        _quietly(self.volume, lambda: self.volume.setValue(int(value)))

    def _volume_moved(self, value: int) -> None:
        # While dragging, wait for the release: one save, not a hundred.
        if not self.volume.isSliderDown():
            self._apply("notifications.sounds.volume", value)

    def _volume_released(self) -> None:
        self._apply("notifications.sounds.volume", self.volume.value())

    def _load_pause(self, value: Any) -> None:
        until = self.store.settings.notifications.paused_until
        if until is None:
            self.pause_state.setText("Notifications are on.")
        elif until >= PAUSED_INDEFINITELY:
            self.pause_state.setText("Notifications are paused until you resume them.")
        else:
            when = until.astimezone().strftime("%a %H:%M")
            self.pause_state.setText(f"Notifications are paused until {when}.")
        self.resume_button.setEnabled(until is not None)

    def _resume(self) -> None:
        self._apply("notifications.paused_until", None)

    def _preview(self, combo: QComboBox) -> None:
        name = combo.currentData()
        if self._play_sound is None or name in (None, "off"):
            return
        played = self._play_sound(str(name), self.volume.value() / 100)
        if not played:
            self._refresh_sound_state()

    def _refresh_sound_state(self) -> None:
        problem = self._sound_problem() if self._sound_problem is not None else None
        self.sound_state.setText(f"Sounds cannot play here: {problem}." if problem else "")
        self.sound_state.setVisible(bool(problem))

    def _autostart_toggled(self, on: bool) -> None:
        error = self._errors["autostart"]
        try:
            self._autostart.set_enabled(on)
        except AutostartError as exc:
            error.setText(str(exc).capitalize())
            error.setVisible(True)
            _quietly(self.start_on_login, lambda: self.start_on_login.setChecked(not on))
            return
        error.setVisible(False)

    def _refresh_adapters(self) -> None:
        if self._notifier is None:
            self.adapter_state.setVisible(False)
            return
        lines = []
        for state in self._notifier.adapter_states():
            if state.in_use:
                lines.append(f"In use: {state.label}.")
                break
            if state.problem:
                # Skipped on the way to the one in use: say why.
                lines.append(f"{state.label} cannot be used here: {state.problem}.")
        else:
            lines.append("No way to show notifications here.")
        self.adapter_state.setText("\n".join(lines))
        self.adapter_state.setVisible(bool(lines))
        chosen = self.store.settings.notifications.adapter
        if chosen == "native" or self._notifier.active_adapter() == "native":
            self.position.setToolTip("The desktop decides where its own notifications appear.")
        else:
            self.position.setToolTip("")

    def _send_test(self) -> None:
        if self._notifier is not None:
            self.test_result.setText(self._notifier.send_test())

    def _refresh_token_state(self) -> None:
        state = self._keyring()
        wallet = self.store.settings.connection.wallet
        lines = []
        if wallet and self._has_token(wallet):
            lines.append(f"A device token is stored for {short_hash(wallet)}.")
        lines.append(state.message)
        self.token_state.setText("\n".join(lines))
        warning = "QLabel#tokenState { color: #b26a00; }"
        self.token_state.setStyleSheet(warning if state.warning else "")
        self.save_token_button.setEnabled(state.usable)

    def _store_token(self) -> None:
        error = self._errors["connection.token"]
        token = self.token.text().strip()
        wallet = self.store.settings.connection.wallet
        message = ""
        if not token:
            message = "Paste the device token first."
        elif not wallet:
            message = "Enter the wallet address first: the token belongs to it."
        else:
            try:
                self._save_token(wallet, token)
            except credentials.CredentialStoreUnavailable as exc:
                message = str(exc).capitalize() + "."
        error.setText(message)
        error.setVisible(bool(message))
        if not message:
            self.token.clear()
            self._refresh_token_state()
            self.store.touch("connection.token")

    # --- wallet sign-in ----------------------------------------------------------------

    def _begin_sign_in(self) -> None:
        connection = self.store.settings.connection
        if not connection.server_url or not connection.wallet:
            self._sign_in_error(
                "connection.sign_in", "Enter the gateway's address and your wallet first."
            )
            return
        self._sign_in_error("connection.sign_in", "")
        self.sign_in_result.setVisible(False)
        self.sign_in_button.setEnabled(False)
        self._spawn(
            self._request_sign_in(
                connection.server_url, connection.wallet, connection.allow_insecure
            )
        )

    async def _request_sign_in(self, url: str, wallet: str, allow_insecure: bool) -> None:
        # Loaded on first use: most sessions never sign in.
        from app.client.siwe import SignInFailed, request_sign_in

        try:
            request = await request_sign_in(url, wallet, allow_insecure=allow_insecure)
        except SignInFailed as exc:
            self._sign_in_error("connection.sign_in", _sentence(exc.message))
            self.sign_in_changed.emit("failed")
            return
        finally:
            self.sign_in_button.setEnabled(True)
        self.sign_in_request = request
        self.sign_in_message.setPlainText(request.message)
        when = request.expires_at.astimezone().strftime("%H:%M:%S")
        self.sign_in_expiry.setText(f"Valid until {when} (5 minutes, once).")
        self.signature.clear()
        self._sign_in_error("connection.signature", "")
        self.sign_in_panel.setVisible(True)
        self.finish_sign_in_button.setEnabled(True)
        self.signature.setFocus()
        self.sign_in_changed.emit("requested")

    def _copy_sign_in_message(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.sign_in_message.toPlainText())

    def _finish_sign_in(self) -> None:
        request = self.sign_in_request
        if request is None or not self.finish_sign_in_button.isEnabled():
            return
        if not self.signature.text().strip():
            self._sign_in_error(
                "connection.signature", "Paste the signature from your wallet first."
            )
            return
        if datetime.now(UTC) >= request.expires_at:
            when = request.expires_at.astimezone().strftime("%H:%M:%S")
            self._sign_in_error(
                "connection.signature", f"This message expired at {when}: {START_AGAIN}."
            )
            self.sign_in_changed.emit("failed")
            return
        self._sign_in_error("connection.signature", "")
        self.finish_sign_in_button.setEnabled(False)
        self._spawn(self._send_signature(request, self.signature.text()))

    async def _send_signature(self, request: SignInRequest, signature: str) -> None:
        from app.client.siwe import SignInFailed, finish_sign_in

        allow_insecure = self.store.settings.connection.allow_insecure
        try:
            signed_in = await finish_sign_in(request, signature, allow_insecure=allow_insecure)
        except SignInFailed as exc:
            self._sign_in_error("connection.signature", _sentence(exc.message))
            self.finish_sign_in_button.setEnabled(True)
            self.sign_in_changed.emit("failed")
            return
        self._signed_in(signed_in)

    def _signed_in(self, signed_in: SignedIn) -> None:
        self.sign_in_request = None
        self.signature.clear()
        self.sign_in_panel.setVisible(False)
        who = short_hash(signed_in.wallet)
        warning = False
        try:
            self._save_token(signed_in.wallet, signed_in.token)
            where = "its device token is kept in the system keyring."
        except credentials.CredentialStoreUnavailable as exc:
            # Better than losing it: connect now, and say it will not survive a restart.
            self._keep_token(signed_in.wallet, signed_in.token)
            warning = True
            where = (
                f"{exc}. The token is used until Seller Notifier quits; sign in again next "
                f"time, or set {credentials.TOKEN_ENV}."
            )
        self.sign_in_result.setText(f"Signed in as {who}: {where}")
        self.sign_in_result.setStyleSheet(
            "QLabel#signInResult { color: #b26a00; }" if warning else ""
        )
        self.sign_in_result.setVisible(True)
        self._refresh_token_state()
        self.store.touch("connection.token")  # the app reconnects with the new token
        self.sign_in_button.setFocus()
        self.sign_in_changed.emit("signed-in")

    def _sign_in_error(self, key: str, message: str) -> None:
        label = self._errors[key]
        label.setText(message)
        label.setVisible(bool(message))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the app's asyncio loop, keeping a reference until it ends."""
        try:
            task = asyncio.ensure_future(work)
        except RuntimeError:  # no running loop: a window shown outside the app
            work.close()
            self.sign_in_button.setEnabled(True)
            self.finish_sign_in_button.setEnabled(True)
            self._sign_in_error("connection.sign_in", "Signing in needs the running app.")
            return
        self._sign_in_tasks.add(task)
        task.add_done_callback(self._sign_in_tasks.discard)


def _quietly(widget: QObject, change: Callable[[], object]) -> None:
    """Set a widget's value from the store without it re-applying the value."""
    blocked = widget.blockSignals(True)
    try:
        change()
    finally:
        widget.blockSignals(blocked)


def _sentence(message: str) -> str:
    """``message`` as shown under a field: capitalised, with a full stop."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _token_stored(wallet: str) -> bool:
    return credentials.load_token(wallet) is not None


def _disconnect(signal: Any, slot: Any) -> None:
    """Drop one connection; fine if it is already gone (PySide warns, then errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            signal.disconnect(slot)
        except (RuntimeError, TypeError, SystemError):
            pass


def focusable_controls(root: QWidget) -> list[QWidget]:
    """The controls under ``root`` the keyboard can reach (for accessibility checks)."""
    return [
        w
        for w in root.findChildren(QWidget)
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus
        and isinstance(w, QAbstractButton | QComboBox | QLineEdit | QSlider | QSpinBox
                       | QDoubleSpinBox | QTimeEdit | QTabWidget)  # fmt: skip
        # A spin box's own line edit is part of the (named) spin box.
        and not isinstance(w.parent(), QAbstractSpinBox)
    ]
