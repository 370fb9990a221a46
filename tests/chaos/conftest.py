"""Fixtures for the chaos tests (the tooling itself is in ``chaos_support``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from chaos_support import BlackholeProxy, GatewayProcess

from app.config.paths import app_paths
from app.config.secrets import GatewaySecrets, load_or_create
from app.gateway.tokens import issue_token


@pytest_asyncio.fixture
async def gateway_process(tmp_path: Path) -> AsyncIterator[GatewayProcess]:
    """A gateway process (not started yet) over a log in tmp_path; killed after the test."""
    process = GatewayProcess(tmp_path / "gateway" / "events.sqlite3")
    try:
        yield process
    finally:
        await process.kill()


@pytest.fixture
def gateway_secrets() -> GatewaySecrets:
    """The secrets a gateway process started in this test's home will use."""
    return load_or_create(app_paths().gateway_dir)


@pytest.fixture
def token_for(gateway_secrets: GatewaySecrets) -> Callable[[str], str]:
    def issue(wallet: str) -> str:
        return issue_token(gateway_secrets.token_secret, wallet, timedelta(hours=1))

    return issue


@pytest_asyncio.fixture
async def make_proxy() -> AsyncIterator[Callable[[int], Awaitable[BlackholeProxy]]]:
    """``await make_proxy(target_port)``: a started proxy; all are closed after the test."""
    proxies: list[BlackholeProxy] = []

    async def make(target_port: int) -> BlackholeProxy:
        proxy = BlackholeProxy(target_port)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in proxies:
            await proxy.close()
