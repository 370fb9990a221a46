"""Resume after an outage: how fast the client is back, and how fast it catches up.

* **reconnect after a gateway restart, minus the backoff drawn**: a real gateway
  (127.0.0.1, SQLite log) closes gracefully (close 1001, "retry after 1s") and
  starts again at once on the same port and log. The client waits the retry
  hint plus its jittered backoff — its status says exactly how long — then
  reconnects. The figure is the time from that decision to ``connected``, minus
  the wait it announced: the cost of reconnecting itself (TCP, WebSocket
  handshake, hello, auth, ok). Goal ≤ 100 ms.
* **replay of 1,000 missed events**: a device 1,000 events behind connects; the
  figure is the time from ``connected`` to ``replayed``: paged reads from the
  gateway's log, encoding, the WebSocket, decoding, validation and the session's
  dedupe and ordering. Baseline: reading the same 1,000 rows from the gateway's
  SQLite log as frames (``SqliteEventLog.read``), the least any replay must do;
  the bare ``SELECT`` (no parsing) is in the note. Goals ≤ 500 ms and ≤ 3×.
* **… into the device's store**: the same, with every event committed to the
  device's store (and folded into its orders and history) before its callback.
  Baseline: reading the same 1,000 rows back from that store
  (``ClientStore.recent(1000)``). Same goals; here the store's one transaction
  per event is most of the time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from app.client import Backoff, ConnectionState, ConnectionStatus, SellerClient
from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import NewOrder, OrderItem
from app.store import ClientStore
from bench.figures import Figure, Goal

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
SECRETS = GatewaySecrets(token_secret="b" * 40, publish_key="p" * 40)
MISSED = 1000


def run(quick: bool) -> list[Figure]:
    return asyncio.run(_run(quick))


async def _run(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as folder:
        root = Path(folder)
        reconnects = await _reconnect_samples(root, 3 if quick else 10)
        samples = 2 if quick else 7
        bare, log_reads, stored, store_reads, selects = await _replay_samples(root, samples)
    return [
        Figure(
            name="reconnect after gateway restart (minus backoff drawn)",
            unit="ms",
            ours=reconnects,
            goals=[Goal("max", 100)],
            note=(
                "graceful restart on the same port; the wait the client announced "
                "(retry hint 1 s + full-jitter backoff) is subtracted"
            ),
        ),
        Figure(
            name=f"replay of {MISSED:,} missed events",
            unit="ms",
            ours=bare,
            baseline=log_reads,
            baseline_name=f"read the same {MISSED:,} rows from the gateway's log as frames",
            goals=[Goal("max", 500), Goal("max_ratio", 3)],
            note=(
                "from `connected` to `replayed`: paged reads, encode, WebSocket, decode, "
                "validation, dedupe and ordering; no device store. The bare SELECT of "
                f"those rows, unparsed, takes {min(selects):.1f} ms"
            ),
        ),
        Figure(
            name=f"replay of {MISSED:,} missed events into the device store",
            unit="ms",
            ours=stored,
            baseline=store_reads,
            baseline_name=f"read the same {MISSED:,} rows back from the device store",
            goals=[Goal("max", 500), Goal("max_ratio", 3)],
            note=(
                "each event committed (and folded into orders and history) before its "
                "callback: one SQLite transaction per event is most of the time"
            ),
        ),
    ]


def _gateway(db: Path, port: int = 0) -> Gateway:
    config = GatewayConfig(secrets=SECRETS, host="127.0.0.1", port=port)
    return Gateway(config, SqliteEventLog(db))


def _token() -> str:
    return issue_token(SECRETS.token_secret, WALLET, timedelta(hours=1))


async def _reconnect_samples(root: Path, samples: int) -> list[float]:
    gateway = _gateway(root / "restart.sqlite3")
    await gateway.start()
    port = gateway.port
    client = SellerClient(gateway.url, _token(), backoff=Backoff())
    loop = asyncio.get_running_loop()
    waits: list[tuple[float, float]] = []  # (loop time of the decision, announced wait)
    connected: asyncio.Queue[float] = asyncio.Queue()

    def watch(status: ConnectionStatus) -> None:
        now = loop.time()
        if status.state is ConnectionState.BACKING_OFF and status.next_attempt_at:
            wait = (status.next_attempt_at - datetime.now(UTC)).total_seconds()
            waits.append((now, max(0.0, wait)))
        elif status.state is ConnectionState.CONNECTED:
            connected.put_nowait(now)

    client.on_status(watch)
    running = asyncio.create_task(client.run())
    figures: list[float] = []
    try:
        await asyncio.wait_for(connected.get(), 10)
        for _ in range(samples):
            await gateway.close()
            gateway = _gateway(root / "restart.sqlite3", port)
            await gateway.start()
            back = await asyncio.wait_for(connected.get(), 30)
            decided, wait = waits[-1]
            figures.append((back - decided - wait) * 1000)
    finally:
        await client.stop()
        await asyncio.gather(running, return_exceptions=True)
        await gateway.close()
    return figures


async def _replay_samples(
    root: Path, samples: int
) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
    log_path = root / "replay.sqlite3"
    log = SqliteEventLog(log_path)
    await asyncio.gather(*(log.append(WALLET, _order(number)) for number in range(MISSED)))
    await log.close()
    gateway = _gateway(log_path)
    await gateway.start()
    bare: list[float] = []
    log_reads: list[float] = []
    stored: list[float] = []
    store_reads: list[float] = []
    selects: list[float] = []
    try:
        for sample in range(samples):
            bare.append(await _one_replay(gateway.url, None))
            log_reads.append(await _log_read(log_path))
            selects.append(_raw_select(log_path))
            with ClientStore(root / f"client-{sample}.sqlite3") as store:
                stored.append(await _one_replay(gateway.url, store))
                started = time.perf_counter()
                rows = store.recent(MISSED)
                store_reads.append((time.perf_counter() - started) * 1000)
                if len(rows) != MISSED:
                    raise RuntimeError(f"the store has {len(rows)} events, not {MISSED}")
    finally:
        await gateway.close()
    return bare, log_reads, stored, store_reads, selects


async def _log_read(log_path: Path) -> float:
    """Milliseconds to read the replayed rows from the gateway's log as frames."""
    log = SqliteEventLog(log_path)
    try:
        started = time.perf_counter()
        frames = await log.read(WALLET, 0, MISSED)
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        await log.close()
    if len(frames) != MISSED:
        raise RuntimeError(f"the log has {len(frames)} events, not {MISSED}")
    return elapsed


def _raw_select(log_path: Path) -> float:
    """Milliseconds to fetch the replayed rows from the gateway's log, unparsed."""
    db = sqlite3.connect(log_path)
    try:
        started = time.perf_counter()
        rows = db.execute(
            "SELECT seq, id, ts, event FROM events WHERE wallet = ? AND seq > 0 "
            "ORDER BY seq LIMIT ?",
            (WALLET, MISSED),
        ).fetchall()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        db.close()
    if len(rows) != MISSED:
        raise RuntimeError(f"the log has {len(rows)} events, not {MISSED}")
    return elapsed


async def _one_replay(url: str, store: ClientStore | None) -> float:
    client = SellerClient(url, _token(), store=store, since=0)
    loop = asyncio.get_running_loop()
    started: list[float] = []
    done: asyncio.Future[float] = loop.create_future()
    client.on_status(
        lambda status: started.append(loop.time())
        if status.state is ConnectionState.CONNECTED
        else None
    )
    def finish(_: object) -> None:
        if not done.done():
            done.set_result(loop.time())

    client.on_replay_done(finish)
    running = asyncio.create_task(client.run())
    try:
        finished = await asyncio.wait_for(done, 60)
    finally:
        await client.stop()
        await asyncio.gather(running, return_exceptions=True)
    return (finished - started[0]) * 1000


def _order(number: int) -> NewOrder:
    return NewOrder(
        order_id=f"ORD-{number}",
        total=Decimal("25.50"),
        currency="USDC",
        items=[OrderItem(name="Ceramic mug", quantity=2, unit_price=Decimal("12.75"))],
        buyer="alice",
    )
