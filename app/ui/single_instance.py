"""One running tray app per user and home: a second launch asks the first to show itself."""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
from typing import Final

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.config.paths import app_paths
from app.ui.connections import disconnect_all

log = logging.getLogger("seller_notifier.ui")

RAISE_MESSAGE: Final = b"raise\n"
_CONNECT_TIMEOUT_MS: Final = 1000


def instance_key() -> str:
    """The local-socket name for this user and this ``SELLER_NOTIFIER_HOME``.

    The config directory is hashed into it, so tests (each with its own home) and
    a demo in another home never take each other for the running instance.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    config_dir = str(app_paths().config_dir.resolve())
    digest = hashlib.sha256(f"{user}\0{config_dir}".encode()).hexdigest()[:16]
    # Short on purpose: a Unix socket path is limited to ~100 bytes.
    return f"seller-notifier-{digest}"


class SingleInstance(QObject):
    """Claims the instance name; the first claimer listens, later ones hand over.

    Call :meth:`acquire` before building the rest of the app. True: this is the
    first instance; ``raise_requested`` fires whenever another launch asks it to
    show itself. False: another instance runs and has been asked to show itself;
    exit quietly. A socket left behind by a crashed instance is removed.
    """

    raise_requested = Signal()

    def __init__(self, key: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key if key is not None else instance_key()
        self._server: QLocalServer | None = None
        self._clients: list[QLocalSocket] = []

    @property
    def is_primary(self) -> bool:
        return self._server is not None

    def acquire(self) -> bool:
        """True if this process is now the running instance (see the class docstring)."""
        if self._server is not None:
            return True
        if self._notify_running():
            log.info("Seller Notifier is already running; asked it to show its window")
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            # Nobody answered, so the socket is left over from a crash.
            QLocalServer.removeServer(self.key)
            if not server.listen(self.key):
                log.warning(
                    "cannot claim the single-instance socket %s: %s; continuing without it",
                    self.key,
                    server.errorString(),
                )
                server.deleteLater()
                return True
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def close(self) -> None:
        """Stop listening (the name is free for the next launch)."""
        for socket in self._clients:
            disconnect_all(socket.readyRead, socket.disconnected)
            socket.abort()
            socket.deleteLater()
        self._clients.clear()
        if self._server is not None:
            disconnect_all(self._server.newConnection)
            self._server.close()
            self._server.deleteLater()
            self._server = None
        disconnect_all(self.raise_requested)

    def _notify_running(self) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(_CONNECT_TIMEOUT_MS):
            return False
        socket.write(RAISE_MESSAGE)
        socket.flush()
        socket.waitForBytesWritten(_CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(_CONNECT_TIMEOUT_MS)
        return True

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if socket is None:
                break
            self._clients.append(socket)
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(self._forget)
            if socket.bytesAvailable():
                self._read_from(socket)

    def _read(self) -> None:
        for socket in list(self._clients):
            self._read_from(socket)

    def _read_from(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            line = bytes(socket.readLine().data()).strip()
            if line == RAISE_MESSAGE.strip():
                self.raise_requested.emit()
            else:
                log.debug("ignored single-instance message %r", line[:40])

    def _forget(self) -> None:
        for socket in list(self._clients):
            if socket.state() == QLocalSocket.LocalSocketState.UnconnectedState:
                self._read_from(socket)  # a message can arrive together with the close
                self._clients.remove(socket)
                disconnect_all(socket.readyRead, socket.disconnected)
                socket.deleteLater()
