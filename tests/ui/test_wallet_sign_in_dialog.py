""""Sign in with wallet…" in the Settings window, against a real gateway on 127.0.0.1:
the exact message is shown, a throwaway key signs it as the seller's wallet would, the
pasted signature earns a device token that goes to the keyring (or this session's
memory) and the app reconnects with it. Wrong signatures, an unreachable gateway, an
expired message and an insecure address are explained next to the field."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keyring
import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.messages import encode_defunct
from keyring.backends import fail
from keyring_support import MemoryKeyring
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.config import credentials
from app.config.paths import app_paths
from app.config.secrets import load_or_create
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.ui.settings.dialog import KeyringState, SettingsDialog
from app.ui.settings.store import SettingsStore
from app.ui.tray_app import TrayApp

SELLER_KEY = "0x" + (0x5E11E2).to_bytes(32, "big").hex()
"""A throwaway private key: the test plays the seller's own wallet app."""
STRANGER_KEY = "0x" + (0x57A2).to_bytes(32, "big").hex()
SELLER = str(Account.from_key(SELLER_KEY).address)
KEYRING = KeyringState(True, "The token is kept in the system keyring (Memory).", False)
TIMEOUT = 15.0


def qt_async(test: Any) -> Any:
    return pytest.mark.asyncio(pytest.mark.qt_loop(test))


def personal_sign(text: str, key: str = SELLER_KEY) -> str:
    """What a wallet's ``personal_sign`` returns for ``text``, as the seller pastes it."""
    signed = Account.sign_message(encode_defunct(text=text), private_key=key)
    return "0x" + bytes(signed.signature).hex()


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    yield
    keyring.set_keyring(previous)
    credentials.forget_token(SELLER)  # a token kept for "this session" ends with the test


@pytest_asyncio.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    secrets = load_or_create(tmp_path / "gateway")
    running = Gateway(
        GatewayConfig(host="127.0.0.1", port=0, secrets=secrets),
        SqliteEventLog(tmp_path / "gateway" / "log.db"),
    )
    await running.start()
    yield running
    await running.close()


@pytest.fixture
def dialogs() -> Iterator[Callable[..., SettingsDialog]]:
    made: list[SettingsDialog] = []

    def make(url: str | None, **options: Any) -> SettingsDialog:
        store, _notice = SettingsStore.load(app_paths().settings_file)
        if url is not None:
            store.set("connection.server_url", url)
        store.set("connection.wallet", SELLER)
        options.setdefault("keyring", lambda: KEYRING)
        options.setdefault("has_token", lambda wallet: False)
        dialog = SettingsDialog(store, **options)
        made.append(dialog)
        return dialog

    yield make
    for dialog in made:
        dialog.disconnect_sources()
        dialog.close()
        dialog.deleteLater()


class States:
    """The dialog's ``sign_in_changed`` states, awaited one at a time."""

    def __init__(self, dialog: SettingsDialog) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        dialog.sign_in_changed.connect(self._queue.put_nowait)

    async def next(self) -> str:
        return await asyncio.wait_for(self._queue.get(), TIMEOUT)


class Recorder:
    def __init__(self) -> None:
        self.saved: list[tuple[str, str]] = []

    def __call__(self, wallet: str, token: str) -> None:
        self.saved.append((wallet, token))


async def until(condition: Callable[[], object], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)  # a turn of the Qt/asyncio loop, not a timing guess

    try:
        await asyncio.wait_for(poll(), TIMEOUT)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "something has the keyboard focus"
    return widget


async def request_message(dialog: SettingsDialog, states: States) -> str:
    dialog.sign_in_button.click()
    assert await states.next() == "requested", dialog.error_for("connection.sign_in")
    return dialog.sign_in_message.toPlainText()


# --- the whole app ------------------------------------------------------------------------


@qt_async
async def test_signing_in_saves_the_token_and_the_app_connects_with_it(
    gateway: Gateway, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(credentials.TOKEN_ENV, raising=False)
    paths = app_paths().ensure()
    connection = {"server_url": gateway.url, "wallet": SELLER}
    paths.settings_file.write_text(json.dumps({"connection": connection}))
    tray_app = TrayApp(paths, demo=False)
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    tray_app.ready.connect(lambda: None if ready.done() else ready.set_result(None))
    running = asyncio.create_task(tray_app.run())
    await asyncio.wait_for(ready, TIMEOUT)
    try:
        await until(lambda: "No device token" in tray_app.tray.toolTip(), "no token yet")
        tray_app.tray.action("Settings…").trigger()
        dialog = tray_app._settings_dialog
        assert dialog is not None
        states = States(dialog)

        message = await request_message(dialog, states)
        assert message.startswith(f"127.0.0.1:{gateway.port} wants you to sign in")
        assert SELLER in message and f"URI: {gateway.url}" in message
        assert dialog.sign_in_message.isReadOnly()
        assert "Valid until" in dialog.sign_in_expiry.text()
        texts = [label.text() for label in dialog.sign_in_panel.findChildren(QLabel)]
        assert any("never asks for your private key" in text for text in texts)
        dialog.copy_message_button.click()
        clipboard = QGuiApplication.clipboard()
        assert clipboard is not None and clipboard.text() == message

        dialog.signature.setText(personal_sign(message))
        dialog.finish_sign_in_button.click()
        assert await states.next() == "signed-in"
        [(where, token)] = memory_keyring.items.items()
        assert where == (credentials.SERVICE, SELLER) and token
        assert "kept in the system keyring" in dialog.sign_in_result.text()
        assert not dialog.sign_in_panel.isVisible() and dialog.sign_in_request is None
        assert token not in paths.settings_file.read_text()

        # No restart: the app reconnects with the new token.
        await until(lambda: tray_app.tray.icon_name == "tray-connected", "connected")
    finally:
        tray_app.tray.action("Quit").trigger()
        assert await asyncio.wait_for(running, 20) == 0


@qt_async
async def test_the_app_refuses_plain_ws_to_another_computer_unless_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 192.0.2.0/24 is reserved for documentation: the refusal comes before any connection.
    monkeypatch.setenv(credentials.TOKEN_ENV, "not-sent")
    paths = app_paths().ensure()
    connection = {"server_url": "ws://192.0.2.10:8765", "wallet": SELLER}
    paths.settings_file.write_text(json.dumps({"connection": connection}))
    tray_app = TrayApp(paths, demo=False)
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    tray_app.ready.connect(lambda: None if ready.done() else ready.set_result(None))
    running = asyncio.create_task(tray_app.run())
    await asyncio.wait_for(ready, TIMEOUT)
    try:
        await until(lambda: "is not encrypted" in tray_app.tray.toolTip(), "the refusal")
    finally:
        tray_app.tray.action("Quit").trigger()
        assert await asyncio.wait_for(running, 20) == 0


# --- the dialog ------------------------------------------------------------------------------


@qt_async
async def test_a_wrong_signature_is_explained_and_nothing_is_saved(
    gateway: Gateway, dialogs: Callable[..., SettingsDialog]
) -> None:
    recorder = Recorder()
    dialog = dialogs(gateway.url, save_token=recorder)
    states = States(dialog)
    message = await request_message(dialog, states)

    dialog.signature.setText("0x1234")
    dialog.finish_sign_in_button.click()
    assert await states.next() == "failed"
    assert "expected 0x followed by 130" in dialog.error_for("connection.signature")

    dialog.signature.setText(personal_sign(message, STRANGER_KEY))
    dialog.finish_sign_in_button.click()
    assert await states.next() == "failed"
    error = dialog.error_for("connection.signature")
    assert error.startswith("The gateway refused the sign-in")
    assert "Traceback" not in error and "\n" not in error
    assert recorder.saved == []
    assert dialog.sign_in_panel.isVisibleTo(dialog), "the seller can paste another signature"
    assert dialog.finish_sign_in_button.isEnabled()


@qt_async
async def test_an_unreachable_gateway_is_explained(
    gateway: Gateway, dialogs: Callable[..., SettingsDialog]
) -> None:
    port = gateway.port
    await gateway.close()  # a port nothing listens on any more
    dialog = dialogs(f"ws://127.0.0.1:{port}")
    states = States(dialog)
    dialog.sign_in_button.click()
    assert await states.next() == "failed"
    assert dialog.error_for("connection.sign_in").startswith(
        f"Cannot reach the gateway at ws://127.0.0.1:{port}"
    )
    assert not dialog.sign_in_panel.isVisibleTo(dialog)
    assert dialog.sign_in_button.isEnabled()


@qt_async
async def test_an_expired_message_asks_to_start_again(
    gateway: Gateway, dialogs: Callable[..., SettingsDialog]
) -> None:
    recorder = Recorder()
    dialog = dialogs(gateway.url, save_token=recorder)
    states = States(dialog)
    message = await request_message(dialog, states)
    request = dialog.sign_in_request
    assert request is not None
    assert timedelta(minutes=4) < request.expires_at - datetime.now(UTC) <= timedelta(minutes=5)
    dialog.sign_in_request = replace(request, expires_at=datetime.now(UTC) - timedelta(seconds=1))

    dialog.signature.setText(personal_sign(message))
    dialog.finish_sign_in_button.click()
    assert await states.next() == "failed"
    error = dialog.error_for("connection.signature")
    assert "expired" in error and "Sign in with wallet" in error
    assert recorder.saved == []

    await request_message(dialog, states)  # starting again gives a fresh message
    assert dialog.error_for("connection.signature") == ""


@qt_async
async def test_without_a_keyring_the_token_serves_this_session(
    gateway: Gateway, dialogs: Callable[..., SettingsDialog], no_keyring: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv(credentials.TOKEN_ENV, raising=False)
    dialog = dialogs(gateway.url, keyring=lambda: KeyringState(False, "No keyring here.", True))
    states = States(dialog)
    touched: list[str] = []
    dialog.store.changed.connect(touched.append)
    message = await request_message(dialog, states)
    dialog.signature.setText(personal_sign(message))
    QTest.keyClick(dialog.signature, Qt.Key.Key_Return)
    assert await states.next() == "signed-in"

    assert credentials.load_token(SELLER), "the app can connect with it now"
    result = dialog.sign_in_result.text()
    assert "no system keyring" in result and credentials.TOKEN_ENV in result
    assert "until Seller Notifier quits" in result
    assert "No keyring here." in dialog.token_state.text()
    assert touched[-1] == "connection.token"


@qt_async
async def test_insecure_addresses_are_refused_unless_allowed(
    dialogs: Callable[..., SettingsDialog],
) -> None:
    dialog = dialogs(None)
    dialog.server_url.setText("ws://192.0.2.10:8765")
    dialog.server_url.editingFinished.emit()
    refusal = dialog.error_for("connection.server_url")
    assert "ws://192.0.2.10:8765 is not encrypted" in refusal and "wss://" in refusal

    states = States(dialog)
    dialog.sign_in_button.click()  # refused before any connection is made
    assert await states.next() == "failed"
    assert "is not encrypted" in dialog.error_for("connection.sign_in")

    dialog.allow_insecure.setChecked(True)
    assert dialog.error_for("connection.server_url") == ""
    saved = json.loads(app_paths().settings_file.read_text())
    assert saved["connection"]["allow_insecure"] is True

    reopened = dialogs(None)  # the same settings file, read again
    assert reopened.allow_insecure.isChecked()
    assert reopened.error_for("connection.server_url") == ""
    reopened.allow_insecure.setChecked(False)
    assert "is not encrypted" in reopened.error_for("connection.server_url")
    assert dialog.error_for("connection.server_url") == ""  # its own store did not change

    dialog.server_url.setText("ws://127.0.0.1:8765")  # this computer: no refusal
    dialog.server_url.editingFinished.emit()
    assert dialog.error_for("connection.server_url") == ""


@qt_async
async def test_the_keyboard_alone_signs_in(
    gateway: Gateway, dialogs: Callable[..., SettingsDialog]
) -> None:
    recorder = Recorder()
    dialog = dialogs(gateway.url, save_token=recorder)
    states = States(dialog)
    dialog.show()
    dialog.activateWindow()
    await until(lambda: QApplication.activeWindow() is dialog, "the window to be active")
    dialog.token.setFocus()
    order = []
    for _ in range(3):
        QTest.keyClick(focused(), Qt.Key.Key_Tab)
        order.append(focused())
    assert order == [dialog.save_token_button, dialog.allow_insecure, dialog.sign_in_button]

    QTest.keyClick(dialog.sign_in_button, Qt.Key.Key_Space)
    assert await states.next() == "requested"
    assert dialog.signature.hasFocus(), "ready for the pasted signature"
    backwards = []
    for _ in range(3):
        shift = Qt.KeyboardModifier.ShiftModifier
        QTest.keyClick(focused(), Qt.Key.Key_Tab, shift)
        backwards.append(focused())
    assert backwards == [dialog.copy_message_button, dialog.sign_in_message, dialog.sign_in_button]
    forwards = []
    for _ in range(4):
        QTest.keyClick(focused(), Qt.Key.Key_Tab)
        forwards.append(focused())
    assert forwards == [
        dialog.sign_in_message,
        dialog.copy_message_button,
        dialog.signature,
        dialog.finish_sign_in_button,
    ]
    # Alt+G: the signature field (its label's mnemonic); the wallet's text goes in.
    QTest.keyClick(dialog, Qt.Key.Key_G, Qt.KeyboardModifier.AltModifier)
    assert dialog.signature.hasFocus()
    QTest.keyClicks(dialog.signature, personal_sign(dialog.sign_in_message.toPlainText()))
    QTest.keyClick(dialog.signature, Qt.Key.Key_Return)
    assert await states.next() == "signed-in"
    assert [wallet for wallet, _token in recorder.saved] == [SELLER]
