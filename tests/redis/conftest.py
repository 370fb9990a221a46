"""Redis tests: a real redis-server per test, and gateways sharing it."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

# The gateway tests' helpers (RawClient, wallets, http_get) are shared, not copied.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))

from redis_process import RedisProcess, redis_server_binary  # noqa: E402

from app.config.secrets import GatewaySecrets  # noqa: E402
from app.gateway.bus.redis import RedisEventLog  # noqa: E402
from app.gateway.server import Gateway, GatewayConfig  # noqa: E402

StartNode = Callable[..., Awaitable[Gateway]]


def _server(tmp_path: Path, durable: bool) -> Iterator[RedisProcess]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = RedisProcess(tmp_path / "redis", durable=durable)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A throwaway redis-server that persists nothing."""
    yield from _server(tmp_path, durable=False)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server with an append-only file fsynced on every write."""
    yield from _server(tmp_path, durable=True)


@pytest.fixture
def shared_secrets() -> GatewaySecrets:
    """What every gateway behind one load balancer must share."""
    return GatewaySecrets(
        token_secret=secrets.token_urlsafe(32), publish_key=secrets.token_urlsafe(32)
    )


@pytest_asyncio.fixture
async def open_log() -> AsyncIterator[Callable[..., Awaitable[RedisEventLog]]]:
    """``await open_log(url, **options)``: a connected RedisEventLog, closed afterwards."""
    opened: list[RedisEventLog] = []

    async def open_(url: str, **options: Any) -> RedisEventLog:
        log = RedisEventLog(url, **options)
        await log.connect()
        opened.append(log)
        return log

    yield open_
    for log in opened:
        await log.close()


@pytest_asyncio.fixture
async def start_node(shared_secrets: GatewaySecrets) -> AsyncIterator[StartNode]:
    """``await start_node(redis_url, **config)``: one more gateway on the shared Redis."""
    started: list[Gateway] = []

    async def start(url: str, **config: Any) -> Gateway:
        log = RedisEventLog(url)
        await log.connect()
        gateway = Gateway(
            GatewayConfig(host="127.0.0.1", port=0, secrets=shared_secrets, **config), log
        )
        await gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.close()
