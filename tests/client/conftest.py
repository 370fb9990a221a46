"""Fixtures for the client tests: frame builders, and a real gateway on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import pytest_asyncio

from app.client import ConnectionStatus, SellerClient
from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.log import Appended
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import (
    ErrorFrame,
    EventFrame,
    Gap,
    Hello,
    NewOrder,
    Ok,
    Replayed,
    SellerEvent,
    encode_frame,
)

T = TypeVar("T")
DEADLINE = 10.0
"""Seconds any awaited condition may take before the test fails."""


class Wire:
    """Builds the text frames a gateway would send."""

    def hello(self) -> str:
        return encode_frame(Hello(server="test-gateway", nonce="n0nce", heartbeat=20.0))

    def ok(self, wallet: str, head: int = 0, retained_from: int = 0) -> str:
        return encode_frame(Ok(wallet=wallet, head=head, retained_from=retained_from))

    def event(
        self,
        wallet: str,
        seq: int,
        event_id: str | None = None,
        event: SellerEvent | None = None,
    ) -> str:
        return encode_frame(self.frame(wallet, seq, event_id, event))

    def frame(
        self,
        wallet: str,
        seq: int,
        event_id: str | None = None,
        event: SellerEvent | None = None,
    ) -> EventFrame:
        return EventFrame(
            wallet=wallet,
            seq=seq,
            id=event_id or f"evt-{seq}",
            ts=datetime(2026, 11, 25, 10, 0, tzinfo=UTC) + timedelta(seconds=seq),
            event=event or self.new_order(f"ORD-{seq}"),
        )

    def new_order(self, order_id: str, total: str = "41.50") -> NewOrder:
        return NewOrder(order_id=order_id, total=Decimal(total), currency="USD")

    def replayed(self, wallet: str, head: int, count: int) -> str:
        return encode_frame(Replayed(wallet=wallet, head=head, count=count))

    def gap(self, wallet: str, from_seq: int, to_seq: int) -> str:
        return encode_frame(Gap(wallet=wallet, from_seq=from_seq, to_seq=to_seq))

    def error(
        self, code: str, message: str, *, fatal: bool, retry_after: float | None = None
    ) -> str:
        return encode_frame(
            ErrorFrame(code=code, message=message, fatal=fatal, retry_after=retry_after)
        )

    def error_for(
        self,
        ref: str,
        code: str,
        message: str,
        *,
        fatal: bool = False,
        retry_after: float | None = None,
    ) -> str:
        """An error about the request whose ``ref`` is given."""
        return encode_frame(
            ErrorFrame(code=code, message=message, ref=ref, fatal=fatal, retry_after=retry_after)
        )


@pytest.fixture
def wire() -> Wire:
    return Wire()


class GatewayHarness:
    """A real gateway on 127.0.0.1 over a SQLite log in tmp_path; restartable on its port."""

    def __init__(self, db: Path, *, retain: int = 100_000) -> None:
        self.db = db
        self.retain = retain
        self.secrets = GatewaySecrets(token_secret="s" * 40, publish_key="k" * 40)
        self.gateway: Gateway | None = None
        self.port = 0

    async def start(self) -> None:
        config = GatewayConfig(secrets=self.secrets, host="127.0.0.1", port=self.port)
        gateway = Gateway(config, SqliteEventLog(self.db, retain=self.retain))
        await gateway.start()
        self.gateway = gateway
        self.port = gateway.port

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.close()
            self.gateway = None

    async def restart(self) -> None:
        """Close (telling clients to come back) and start again on the same port and log."""
        await self.stop()
        await self.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def token(self, wallet: str, ttl: timedelta = timedelta(hours=1)) -> str:
        return issue_token(self.secrets.token_secret, wallet, ttl)

    def expired_token(self, wallet: str) -> str:
        issued = datetime.now(UTC) - timedelta(days=2)
        return issue_token(self.secrets.token_secret, wallet, timedelta(days=1), now=issued)

    async def publish(self, wallet: str, event: SellerEvent, key: str | None = None) -> Appended:
        """Publish through the running gateway, or straight into its log while it is down."""
        if self.gateway is not None:
            return await self.gateway.publish(wallet, event, key)
        log = SqliteEventLog(self.db, retain=self.retain)
        try:
            return await log.append(wallet, event, key)
        finally:
            await log.close()


@pytest_asyncio.fixture
async def make_gateway(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[GatewayHarness]]]:
    """Start a gateway with options (e.g. ``retain=2``); all are closed after the test."""
    started: list[GatewayHarness] = []

    async def start(*, retain: int = 100_000) -> GatewayHarness:
        harness = GatewayHarness(tmp_path / f"gateway-{len(started)}.sqlite3", retain=retain)
        await harness.start()
        started.append(harness)
        return harness

    try:
        yield start
    finally:
        for harness in started:
            await harness.stop()


@pytest_asyncio.fixture
async def gateway(make_gateway: Callable[..., Awaitable[GatewayHarness]]) -> GatewayHarness:
    return await make_gateway()


class Waits:
    """Waiting for conditions with a deadline, never for a fixed time."""

    async def within(self, awaitable: Awaitable[T], what: str) -> T:
        """Await with the suite's deadline; the failure names what did not happen."""
        try:
            return await asyncio.wait_for(awaitable, DEADLINE)
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}")

    async def status(
        self, client: SellerClient, predicate: Callable[[ConnectionStatus], bool], what: str
    ) -> ConnectionStatus:
        """The first status (the current one included) that satisfies ``predicate``."""
        if predicate(client.status):
            return client.status
        found: asyncio.Future[ConnectionStatus] = asyncio.get_running_loop().create_future()

        def check(status: ConnectionStatus) -> None:
            if predicate(status) and not found.done():
                found.set_result(status)

        unsubscribe = client.on_status(check)
        try:
            return await self.within(found, what)
        finally:
            unsubscribe()

    @asynccontextmanager
    async def running(self, client: SellerClient) -> AsyncIterator[asyncio.Task[None]]:
        """``client.run()`` in a task for the block; stopped (and awaited) after it."""
        task = asyncio.create_task(client.run())
        try:
            yield task
        finally:
            await self.within(client.stop(), "the client to stop")
            if not task.done():
                await self.within(asyncio.wait({task}), "run() to return")


@pytest.fixture
def waits() -> Waits:
    return Waits()


class Inbox(Generic[T]):
    """Collects what callbacks receive; waits (with the deadline) for enough of it."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._arrived = asyncio.Event()

    def put(self, item: T) -> None:
        self.items.append(item)
        self._arrived.set()

    async def until(self, count: int, what: str = "items") -> list[T]:
        async def enough() -> None:
            while len(self.items) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await Waits().within(enough(), f"{count} {what} (have {len(self.items)})")
        return self.items[:count]


@pytest.fixture
def make_inbox() -> Callable[[], Inbox[Any]]:
    return Inbox
