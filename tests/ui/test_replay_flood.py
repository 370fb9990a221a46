"""Back online after missing many events: one toast per event type, every event listed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.config.paths import app_paths
from app.config.secrets import GatewaySecrets
from app.config.settings import ConnectionSettings, Settings, save_settings
from app.domain.notices import Notice
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import NewOrder, PaymentReceived
from app.store import ClientStore
from app.ui.tray_app import TrayApp

SECRETS = GatewaySecrets(token_secret="f" * 40, publish_key="p" * 40)
MISSED_ORDERS = 12
MISSED_PAYMENTS = 3


@pytest.mark.asyncio
@pytest.mark.qt_loop
async def test_a_long_replay_is_summarised_per_type_and_listed_in_full(
    isolated_home: Path, tmp_path: Path, wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = GatewayConfig(secrets=SECRETS, host="127.0.0.1", port=0)
    async with Gateway(config, SqliteEventLog(tmp_path / "gateway.sqlite3")) as gateway:
        for number in range(MISSED_ORDERS):
            await gateway.publish(
                wallet_a, NewOrder(order_id=f"ORD-{number}", total=Decimal("10.25"),
                                   currency="USDC"),
            )  # fmt: skip
        for number in range(MISSED_PAYMENTS):
            await gateway.publish(
                wallet_a, PaymentReceived(amount=Decimal("0.5"), currency="ETH",
                                          transaction_hash="0x" + f"{number:064x}"),
            )  # fmt: skip
        paths = app_paths().ensure()
        save_settings(
            Settings(connection=ConnectionSettings(server_url=gateway.url, wallet=wallet_a)),
            paths.settings_file,
        )
        monkeypatch.setenv(
            "SELLER_NOTIFIER_TOKEN",
            issue_token(SECRETS.token_secret, wallet_a, timedelta(hours=1)),
        )
        with ClientStore(paths.client_db) as store:
            store.set_position(wallet_a, 0)  # this device was last online before all of them

        tray_app = TrayApp(paths, demo=False)
        shown: list[Notice] = []
        two_toasts: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_ready() -> None:
            def on_shown(notice: Notice) -> None:
                shown.append(notice)
                if len(shown) >= 2 and not two_toasts.done():
                    two_toasts.set_result(None)

            tray_app.toasts.shown.connect(on_shown)

        tray_app.ready.connect(on_ready)
        running = asyncio.create_task(tray_app.run())
        try:
            await asyncio.wait_for(two_toasts, 20)
            with ClientStore(paths.client_db) as store:
                stored = store.count(wallet_a)
        finally:
            tray_app.request_quit("test over")
            assert await asyncio.wait_for(running, 20) == 0

    assert [notice.title for notice in shown] == [
        "12 new orders · 123.00 USDC",
        "3 payments · 1.50 ETH",
    ]
    assert stored == MISSED_ORDERS + MISSED_PAYMENTS  # the history has every one
