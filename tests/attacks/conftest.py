"""Attack tests run against a real gateway on 127.0.0.1:0 with a SQLite log in tmp_path,
while the victim's events keep being published, so that any leak would be seen."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

# The gateway tests' helpers (RawClient, throwaway wallets) are shared, not copied.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))

from attack_scene import ATTACKER, VICTIM, Scene  # noqa: E402
from gateway_support import order  # noqa: E402

from app.config.secrets import GatewaySecrets  # noqa: E402
from app.gateway.bus.sqlite import SqliteEventLog  # noqa: E402
from app.gateway.server import Gateway, GatewayConfig  # noqa: E402


@pytest_asyncio.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    keys = GatewaySecrets(
        token_secret=secrets.token_urlsafe(32), publish_key=secrets.token_urlsafe(32)
    )
    log = SqliteEventLog(tmp_path / "gateway" / "events.sqlite3")
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, secrets=keys), log)
    await gateway.start()
    scene = Scene(gateway=gateway, secrets=keys, attacker=ATTACKER, victim=VICTIM)
    for n in range(5):
        await gateway.publish(VICTIM.address, order(9000 + n))
        await gateway.publish(ATTACKER.address, order(n))
    scene.victim_events = 5

    async def keep_publishing() -> None:
        # The victim's shop stays busy during every attack: a leak cannot hide.
        n = 100
        while True:
            await gateway.publish(VICTIM.address, order(9000 + n))
            scene.victim_events += 1
            n += 1
            await asyncio.sleep(0.005)  # pacing of the background traffic, not a wait

    traffic = asyncio.create_task(keep_publishing())
    try:
        yield scene
    finally:
        traffic.cancel()
        await asyncio.gather(traffic, return_exceptions=True)
        await gateway.close()
