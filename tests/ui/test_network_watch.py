"""Network changes reported by Qt become an immediate reconnect."""

from __future__ import annotations

import pytest
from PySide6.QtNetwork import QNetworkInformation

from app.ui.network_watch import NetworkWatch

Reachability = QNetworkInformation.Reachability
Medium = QNetworkInformation.TransportMedium


@pytest.fixture
def watch(qapp: object) -> tuple[NetworkWatch, list[str]]:
    reasons: list[str] = []
    return NetworkWatch(reasons.append), reasons


def test_coming_back_online_reconnects_once(watch: tuple[NetworkWatch, list[str]]) -> None:
    network, reasons = watch
    network.reachability_changed(Reachability.Online)  # as it started: nothing to do
    network.reachability_changed(Reachability.Disconnected)
    network.reachability_changed(Reachability.Online)
    network.reachability_changed(Reachability.Online)

    assert reasons == ["network back (online)"]


def test_a_local_network_is_enough_for_a_gateway_on_the_lan(
    watch: tuple[NetworkWatch, list[str]],
) -> None:
    network, reasons = watch
    network.reachability_changed(Reachability.Disconnected)
    network.reachability_changed(Reachability.Local)

    assert reasons == ["network back (local)"]


def test_a_new_path_reconnects_but_an_unknown_one_does_not(
    watch: tuple[NetworkWatch, list[str]],
) -> None:
    network, reasons = watch
    network.reachability_changed(Reachability.Online)
    network.transport_medium_changed(Medium.WiFi)  # first news of the medium
    network.transport_medium_changed(Medium.Ethernet)
    network.transport_medium_changed(Medium.Unknown)

    assert reasons == ["network changed to ethernet"]


def test_start_uses_a_backend_where_there_is_one_and_stop_is_idempotent(
    watch: tuple[NetworkWatch, list[str]],
) -> None:
    network, reasons = watch
    started = network.start()

    assert started == (QNetworkInformation.instance() is not None)
    network.stop()
    network.stop()
    assert reasons == []
