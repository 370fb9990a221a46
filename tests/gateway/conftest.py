"""A real gateway on 127.0.0.1:0 over a real SQLite log in tmp_path, for each test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from gateway_support import StartGateway

from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import DEFAULT_RETAIN, SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token


@pytest.fixture
def gateway_secrets() -> GatewaySecrets:
    return GatewaySecrets(
        token_secret=secrets.token_urlsafe(32), publish_key=secrets.token_urlsafe(32)
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gateway" / "events.sqlite3"


@pytest_asyncio.fixture
async def start_gateway(
    db_path: Path, gateway_secrets: GatewaySecrets
) -> AsyncIterator[StartGateway]:
    """``await start_gateway(retain=…, revocation_poll=…, **config)``: started now,
    closed after the test."""
    started: list[Gateway] = []

    async def start(
        *, retain: int = DEFAULT_RETAIN, revocation_poll: float = 1.0, **config: Any
    ) -> Gateway:
        log = SqliteEventLog(db_path, retain=retain, revocation_poll=revocation_poll)
        gateway = Gateway(
            GatewayConfig(host="127.0.0.1", port=0, secrets=gateway_secrets, **config), log
        )
        await gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.close()


@pytest_asyncio.fixture
async def gateway(start_gateway: StartGateway) -> Gateway:
    return await start_gateway()


@pytest.fixture
def token_for(gateway_secrets: GatewaySecrets) -> Callable[[str], str]:
    def issue(wallet: str) -> str:
        return issue_token(gateway_secrets.token_secret, wallet, timedelta(hours=1))

    return issue
