"""The tray tooltip tells how good the link is, and never lets a lost range go unmentioned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.client import GapDetected, LinkQuality
from app.client.status import ConnectionState, ConnectionStatus
from app.domain.notices import describe_gap
from app.ui.tray import TrayIcon

SERVER = "ws://127.0.0.1:8765"


@pytest.fixture
def tray(qapp: object, wallet_a: str) -> Iterator[TrayIcon]:
    icon = TrayIcon(server=SERVER, wallet=wallet_a)
    yield icon
    icon.hide()
    icon.deleteLater()


def test_the_tooltip_shows_the_link_quality_and_round_trip_while_connected(
    tray: TrayIcon,
) -> None:
    tray.update_status(
        ConnectionStatus(ConnectionState.CONNECTED, SERVER, latency=0.412,
                         quality=LinkQuality.DEGRADED)  # fmt: skip
    )
    assert "Link: degraded (round trip 412 ms)" in tray.tooltip_text().splitlines()

    tray.update_status(ConnectionStatus(ConnectionState.BACKING_OFF, SERVER, reason="lost"))
    assert "Link:" not in tray.tooltip_text()


def test_a_gap_stays_in_the_tooltip_until_cleared(tray: TrayIcon, wallet_a: str) -> None:
    gap = describe_gap(GapDetected(wallet_a, 42, 1041)).title
    tray.set_gap(gap)
    tray.update_status(ConnectionStatus(ConnectionState.CONNECTED, SERVER))

    assert f"⚠ {gap}" in tray.tooltip_text().splitlines()
    assert gap == "1000 events could not be delivered"

    tray.set_gap(None)
    assert "⚠" not in tray.tooltip_text()
