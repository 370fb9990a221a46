"""The default event log: one SQLite file, durable before a publish is acknowledged.

Threading: every SQLite call runs on one dedicated worker thread (a
single-worker executor), never on the event loop. With ``synchronous=FULL`` a
commit waits for fsync, which would stall every connection if it ran on the
loop; a single thread also serialises all access to the one connection
without a lock, and queues reads behind earlier writes, so a read always sees
what was acknowledged before it.

Group commit: appends that arrive while a commit is in progress are written
together in the next transaction, so a pipelining publisher pays one fsync per
batch instead of one per event, and each append still returns only after its
own transaction committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

from app.gateway.log import Appended, EventLogClosed, EventLogError
from app.protocol.events import SellerEvent, event_to_wire, parse_event
from app.protocol.frames import EventFrame

DEFAULT_RETAIN: Final = 100_000
"""Events kept per wallet; older ones are deleted (and replaying them yields a gap)."""

_log = logging.getLogger("seller_notifier.gateway.log")
_T = TypeVar("_T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    wallet TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    ts TEXT NOT NULL,
    event TEXT NOT NULL,
    key TEXT,
    UNIQUE (wallet, seq),
    UNIQUE (wallet, id),
    UNIQUE (wallet, key)
)
"""


@dataclass
class _Request:
    wallet: str
    event_json: str
    key: str | None
    future: asyncio.Future[Appended] = field(repr=False)


class SqliteEventLog:
    """:class:`~app.gateway.log.EventLog` in a SQLite file (created with its folder).

    ``retain``: events kept per wallet; when a wallet's log grows beyond it the
    oldest are deleted, and with them their idempotency keys. Raises
    ``sqlite3.Error`` / ``OSError`` when the file cannot be opened.
    """

    def __init__(self, path: Path, *, retain: int = DEFAULT_RETAIN) -> None:
        if retain < 1:
            raise ValueError("retain must be at least 1")
        self.path = path
        self._retain = retain
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: opened here, then used only by the worker thread.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives power loss and kill -9 before we acknowledge it.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute(_SCHEMA)
        except BaseException:
            self._db.close()
            raise
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log")
        self._pending: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    # --- EventLog ---------------------------------------------------------------------

    async def append(self, wallet: str, event: SellerEvent, key: str | None = None) -> Appended:
        self._check_open()
        request = _Request(
            wallet=wallet,
            event_json=json.dumps(event_to_wire(event), separators=(",", ":")),
            key=key,
            future=asyncio.get_running_loop().create_future(),
        )
        # Queued synchronously, before any await: appends keep their call order.
        self._pending.append(request)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pending(), name="event-log-writer")
        return await request.future

    async def read(self, wallet: str, after_seq: int, limit: int) -> list[EventFrame]:
        return await self._call(self._read, wallet, after_seq, limit)

    async def bounds(self, wallet: str) -> tuple[int, int]:
        return await self._call(self._bounds, wallet)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            # Appends already accepted are finished, not lost.
            await asyncio.shield(self._writer)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=False)

    # --- on the loop ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise EventLogClosed("the event log is closed")

    async def _call(self, function: Callable[..., _T], *args: object) -> _T:
        self._check_open()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        except sqlite3.Error as exc:
            raise EventLogError(f"cannot read the event log {self.path}: {exc}") from exc

    async def _write_pending(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await loop.run_in_executor(self._executor, self._write, batch)
                except asyncio.CancelledError:
                    for request in batch:
                        request.future.cancel()
                    raise
                except Exception as exc:
                    _log.error("could not store %d event(s) in %s: %s", len(batch), self.path, exc)
                    for request in batch:
                        if not request.future.done():
                            request.future.set_exception(
                                EventLogError(f"could not store the event: {exc}")
                            )
                    continue
                for request, appended in zip(batch, results, strict=True):
                    # A caller that gave up (cancelled) still had its event stored.
                    if not request.future.done():
                        request.future.set_result(appended)
        finally:
            self._writer = None

    # --- on the worker thread ---------------------------------------------------------

    def _write(self, batch: list[_Request]) -> list[Appended]:
        now = datetime.now(UTC)
        stamp = now.isoformat()
        heads: dict[str, int] = {}
        results: list[Appended] = []
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for request in batch:
                if request.key is not None:
                    # The key is the id, so this also catches a key repeated within the batch.
                    row = db.execute(
                        "SELECT seq, id, ts FROM events WHERE wallet = ? AND id = ?",
                        (request.wallet, request.key),
                    ).fetchone()
                    if row is not None:
                        results.append(
                            Appended(
                                request.wallet, row[0], row[1], _timestamp(row[2]), duplicate=True
                            )
                        )
                        continue
                head = heads.get(request.wallet)
                if head is None:
                    head = self._head(request.wallet)
                seq = head + 1
                heads[request.wallet] = seq
                event_id = request.key if request.key is not None else uuid.uuid4().hex
                db.execute(
                    "INSERT INTO events (wallet, seq, id, ts, event, key) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (request.wallet, seq, event_id, stamp, request.event_json, request.key),
                )
                results.append(Appended(request.wallet, seq, event_id, now))
            for wallet, head in heads.items():
                if head > self._retain:
                    db.execute(
                        "DELETE FROM events WHERE wallet = ? AND seq <= ?",
                        (wallet, head - self._retain),
                    )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    def _head(self, wallet: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE wallet = ?", (wallet,)
        ).fetchone()
        return int(row[0])

    def _bounds(self, wallet: str) -> tuple[int, int]:
        row = self._db.execute(
            "SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM events WHERE wallet = ?",
            (wallet,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def _read(self, wallet: str, after_seq: int, limit: int) -> list[EventFrame]:
        rows = self._db.execute(
            "SELECT seq, id, ts, event FROM events WHERE wallet = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (wallet, after_seq, limit),
        ).fetchall()
        return [
            EventFrame(
                wallet=wallet,
                seq=seq,
                id=event_id,
                ts=_timestamp(ts),
                event=parse_event(json.loads(event)),
            )
            for seq, event_id, ts, event in rows
        ]


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)
