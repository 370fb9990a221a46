"""Network changes, as the operating system reports them, turned into "reconnect now".

Qt's ``QNetworkInformation`` (a NetworkManager, GLib, connman, Windows or
Apple backend) says when the machine goes on or off line and when the
transport changes (Wi-Fi to Ethernet …). A TCP connection made over the old
path is then usually dead without knowing it, and a client waiting out a
backoff would stay silent for up to a minute: :class:`NetworkWatch` calls
``reconnect(reason)`` (``SellerClient.reconnect_now``) as soon as the network
is usable again. Where no backend exists it says so once and does nothing:
the client's own pings and backoff still recover, only later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QNetworkInformation

log = logging.getLogger("seller_notifier.ui")

Reachability = QNetworkInformation.Reachability
TransportMedium = QNetworkInformation.TransportMedium

_USABLE: Final = frozenset({Reachability.Online, Reachability.Site, Reachability.Local})
"""Enough network to reach a gateway (a LAN gateway needs only ``Local``)."""


class NetworkWatch(QObject):
    """Calls ``reconnect(reason)`` when the network becomes usable again or changes path.

    Call :meth:`start` once (False: no backend on this system); :meth:`stop`
    disconnects. The handlers are plain methods, so tests drive them directly.
    """

    def __init__(self, reconnect: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reconnect = reconnect
        self._info: QNetworkInformation | None = None
        self._reachability: Reachability | None = None
        self._medium: TransportMedium | None = None

    def start(self) -> bool:
        """Load a reachability backend and listen to it; False (logged) if there is none."""
        loaded = QNetworkInformation.loadBackendByFeatures(
            QNetworkInformation.Feature.Reachability
        )
        info = QNetworkInformation.instance() if loaded else None
        if info is None:
            log.info(
                "no network-information backend here: reconnecting after network "
                "changes relies on pings and backoff"
            )
            return False
        self._info = info
        self._reachability = info.reachability()
        self._medium = info.transportMedium()
        info.reachabilityChanged.connect(self.reachability_changed)
        info.transportMediumChanged.connect(self.transport_medium_changed)
        log.info("watching the network through Qt's %s backend", info.backendName())
        return True

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        info, self._info = self._info, None
        if info is not None:
            info.reachabilityChanged.disconnect(self.reachability_changed)
            info.transportMediumChanged.disconnect(self.transport_medium_changed)

    def reachability_changed(self, reachability: Reachability) -> None:
        """The backend's news: reconnect when the network just became usable."""
        previous, self._reachability = self._reachability, reachability
        if previous is None:
            return  # the first news only says where things stand
        if reachability in _USABLE and previous not in _USABLE:
            self._reconnect(f"network back ({reachability.name.lower()})")
        elif reachability not in _USABLE and previous in _USABLE:
            log.info("network lost (%s)", reachability.name.lower())

    def transport_medium_changed(self, medium: TransportMedium) -> None:
        """The path changed (e.g. Wi-Fi to Ethernet): connections over the old one are dead."""
        previous, self._medium = self._medium, medium
        known = (TransportMedium.Unknown, None)
        if medium != previous and medium not in known and previous not in known:
            if self._reachability in _USABLE or self._reachability is None:
                self._reconnect(f"network changed to {medium.name.lower()}")
