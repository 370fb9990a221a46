"""With logging at DEBUG (``--debug``), the device token never reaches the log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from app.client import Backoff, ConnectionState, SellerClient
from app.config.log_redaction import without_frame_debug

if TYPE_CHECKING:
    from conftest import GatewayHarness, Inbox, Waits, Wire


@pytest.mark.asyncio
async def test_the_device_token_is_not_logged_at_debug(
    gateway: GatewayHarness, waits: Waits, wire: Wire, make_inbox: Callable[[], Inbox[Any]],
    wallet_a: str, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    token = gateway.token(wallet_a)
    client = SellerClient(gateway.url, token, backoff=Backoff(initial=0, maximum=0))
    received = make_inbox()
    client.on("*", lambda frame: received.put(frame.seq))

    async with waits.running(client):
        await waits.status(
            client, lambda status: status.state is ConnectionState.CONNECTED, "a connection"
        )
        await gateway.publish(wallet_a, wire.new_order("ORD-1", "41.50"))
        assert await received.until(1, "the event") == [1]

    logged = "\n".join(record.getMessage() for record in caplog.records)
    # websockets would log every frame here: its loggers are enabled at DEBUG.
    assert logging.getLogger("websockets.client").isEnabledFor(logging.DEBUG)
    # Not the token, nor the start or end websockets would print of a long frame.
    for part in (token, token[:12], token[-12:]):
        assert part not in logged


def test_warnings_still_pass_through(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = without_frame_debug("seller_notifier.test.websockets")

    adapter.debug("> TEXT '{\"token\": \"secret\"}'")
    adapter.warning("connection lost")

    assert [record.getMessage() for record in caplog.records] == ["connection lost"]
