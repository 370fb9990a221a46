"""An embedded gateway with simulated traffic: ``seller-notifier --demo``.

Everything runs on loopback in the current event loop; the data folder holds
the demo's secrets and event log, so a demo restarted later resumes its story.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from app.config.secrets import load_or_create
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.simulator import Simulator
from app.gateway.tokens import issue_token

DEMO_WALLET: Final = "0x5E11e7de30de30De30de30dE30De30De30dE30de"
"""The demo seller's wallet (checksummed)."""
DEMO_TOKEN_TTL: Final = timedelta(days=30)

_log = logging.getLogger("seller_notifier.gateway.demo")


class DemoGateway:
    """``async with DemoGateway(dir) as demo:`` a gateway on ``demo.url`` publishing
    ``rate`` simulated events per second for ``demo.wallet``; ``demo.token`` lets a
    client in. Leaving the block stops the simulator and closes the gateway."""

    def __init__(self, data_dir: Path, *, rate: float = 0.5, seed: int | None = None) -> None:
        self.data_dir = data_dir
        self.wallet = DEMO_WALLET
        self._simulator = Simulator([DEMO_WALLET], seed=seed, rate=rate)
        self._gateway: Gateway | None = None
        self._token: str | None = None
        self._running: asyncio.Task[None] | None = None

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("the demo gateway is not started")
        return self._gateway

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def token(self) -> str:
        if self._token is None:
            raise RuntimeError("the demo gateway is not started")
        return self._token

    async def __aenter__(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secrets = load_or_create(self.data_dir)
        log = SqliteEventLog(self.data_dir / "events.sqlite3")
        gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, secrets=secrets), log)
        try:
            await gateway.start()
        except BaseException:
            await log.close()
            raise
        self._gateway = gateway
        self._token = issue_token(secrets.token_secret, DEMO_WALLET, DEMO_TOKEN_TTL)
        self._running = asyncio.create_task(self._simulate(gateway), name="demo-simulator")
        _log.info("demo gateway on %s for %s", gateway.url, DEMO_WALLET)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the simulator and close the gateway (what leaving ``async with`` does)."""
        if self._running is not None:
            self._running.cancel()
            # gather, unlike suppressing CancelledError, lets our own cancellation through.
            await asyncio.gather(self._running, return_exceptions=True)
            self._running = None
        if self._gateway is not None:
            await self._gateway.close()

    async def _simulate(self, gateway: Gateway) -> None:
        try:
            await self._simulator.run(gateway.publish)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The demo's tray keeps running; it just stops receiving new events.
            _log.exception("the demo simulator stopped")
