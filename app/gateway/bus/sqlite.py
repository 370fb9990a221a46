"""The default event log: one SQLite file, durable before a publish is acknowledged.

Threading: every SQLite call runs on one dedicated worker thread (a
single-worker executor), never on the event loop. A commit can wait for
fsync, which would stall every connection if it ran on the loop; a single
thread also serialises all access to the one connection without a lock, and
queues reads behind earlier writes, so a read always sees what was
acknowledged before it.

Durability: by default (``fsync=False``, WAL with ``synchronous=NORMAL``) an
acknowledged publish survives a crash or ``kill -9`` of the gateway (the chaos
tests prove it), but the last few milliseconds could be lost if the whole
machine loses power. ``fsync=True`` (``synchronous=FULL``; ``gateway --fsync``)
also survives power loss, at the cost of one fsync per commit (measured 2.7 ms
on the development disk: end-to-end p50 1.5 ms → 4.4 ms, see docs/BENCHMARKS.md).

Group commit: appends that arrive while a commit is in progress are written
together in the next transaction, so a pipelining publisher pays one fsync per
batch instead of one per event, and each append still returns only after its
own transaction committed.

The same file holds the sign-in state (:class:`~app.gateway.backend.GatewayBackend`):
used wallet sign-in nonces and revocations. ``seller-notifier token revoke``
writes a revocation from another process; a following gateway polls for new
ones every ``revocation_poll`` seconds and signs the devices out. One SQLite
file serves one gateway process; several gateways share Redis instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

from app.gateway.backend import Follower, Revocation
from app.gateway.bus.group_commit import AppendRequest, GroupCommitQueue
from app.gateway.log import Appended, EventLogClosed, EventLogError
from app.gateway.tokens import TokenClaims
from app.protocol.events import SellerEvent, parse_event
from app.protocol.frames import EventFrame

DEFAULT_RETAIN: Final = 100_000
"""Events kept per wallet; older ones are deleted (and replaying them yields a gap)."""

_log = logging.getLogger("seller_notifier.gateway.log")
_T = TypeVar("_T")

_SCHEMA: Final = (
    """
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
""",
    """
CREATE TABLE IF NOT EXISTS revocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT,
    wallet TEXT,
    at REAL NOT NULL
)
""",
    "CREATE INDEX IF NOT EXISTS revocations_by_token ON revocations (token_id)",
    "CREATE INDEX IF NOT EXISTS revocations_by_wallet ON revocations (wallet, at)",
    "CREATE TABLE IF NOT EXISTS used_nonces (nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL)",
)
REVOCATION_POLL: Final = 1.0
"""Seconds between two looks for revocations written by another process."""
_AGE_TRIM_BATCH: Final = 1000


class SqliteEventLog:
    """:class:`~app.gateway.log.EventLog` in a SQLite file (created with its folder).

    ``retain``: events kept per wallet; when a wallet's log grows beyond it the
    oldest are deleted, and with them their idempotency keys. ``retain_age``:
    events older than this are deleted too, when the wallet's next event is
    appended (the newest is always kept). Raises ``sqlite3.Error`` /
    ``OSError`` when the file cannot be opened.
    """

    def __init__(
        self,
        path: Path,
        *,
        retain: int = DEFAULT_RETAIN,
        retain_age: timedelta | None = None,
        revocation_poll: float = REVOCATION_POLL,
        fsync: bool = False,
    ) -> None:
        if retain < 1:
            raise ValueError("retain must be at least 1")
        if retain_age is not None and retain_age <= timedelta(0):
            raise ValueError("retain_age must be positive")
        if revocation_poll <= 0:
            raise ValueError("revocation_poll must be positive")
        self.path = path
        self._retain = retain
        self._retain_age = retain_age
        self._revocation_poll = revocation_poll
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: opened here, then used only by the worker thread.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL (in WAL mode): a commit survives a crash of this process before we
            # acknowledge it; FULL also survives a power loss (one fsync per commit).
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except BaseException:
            self._db.close()
            raise
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log")
        self._appends = GroupCommitQueue(
            self._write_batch, where=f"in {path}", task_name="event-log-writer"
        )
        self._following: asyncio.Task[None] | None = None
        self._follower: Follower | None = None
        self._closed = False

    # --- EventLog ---------------------------------------------------------------------

    async def append(self, wallet: str, event: SellerEvent, key: str | None = None) -> Appended:
        self._check_open()
        return await self._appends.append(wallet, event, key)

    async def read(self, wallet: str, after_seq: int, limit: int) -> list[EventFrame]:
        return await self._call(self._read, wallet, after_seq, limit)

    async def bounds(self, wallet: str) -> tuple[int, int]:
        return await self._call(self._bounds, wallet)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)
        await self._appends.drain()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=False)

    # --- GatewayBackend ----------------------------------------------------------------

    async def use_nonce(self, nonce: str, expires_at: datetime) -> bool:
        return await self._call(self._use_nonce, nonce, expires_at.timestamp())

    async def revoke(self, revocation: Revocation) -> None:
        await self._call(
            self._revoke, revocation.token_id, revocation.wallet, revocation.at.timestamp()
        )
        # This process's devices need not wait for the poll (which repeats it, harmlessly).
        if self._follower is not None:
            self._follower.revoked(revocation)

    async def find_revocation(self, claims: TokenClaims) -> Revocation | None:
        row = await self._call(
            self._find_revocation, claims.token_id, claims.wallet, claims.issued_at.timestamp()
        )
        return None if row is None else _revocation(row)

    async def follow(self, follower: Follower) -> None:
        if self._following is not None:
            raise RuntimeError("this event log is already followed")
        last = await self._call(self._last_revocation)
        self._follower = follower
        self._following = asyncio.create_task(
            self._poll_revocations(follower, last), name="revocation-poll"
        )

    async def check(self) -> None:
        await self._call(self._ping)

    async def _poll_revocations(self, follower: Follower, last: int) -> None:
        while True:
            await asyncio.sleep(self._revocation_poll)
            try:
                rows = await self._call(self._revocations_after, last)
            except EventLogError as exc:
                _log.warning("cannot read revocations: %s", exc)
                continue
            for row in rows:
                last = row[0]
                follower.revoked(_revocation(row[1:]))

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

    async def _write_batch(self, batch: list[AppendRequest]) -> list[Appended | BaseException]:
        loop = asyncio.get_running_loop()
        return list(await loop.run_in_executor(self._executor, self._write, batch))

    # --- on the worker thread ---------------------------------------------------------

    def _write(self, batch: list[AppendRequest]) -> list[Appended]:
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
                if self._retain_age is not None:
                    self._trim_by_age(wallet, head, (now - self._retain_age).isoformat())
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    def _trim_by_age(self, wallet: str, head: int, cutoff: str) -> None:
        """Delete the wallet's events older than ``cutoff``, except the newest: a
        bounded batch per append, so catching up on a long-idle wallet is spread out."""
        oldest = self._db.execute(
            "SELECT ts FROM events WHERE wallet = ? ORDER BY seq LIMIT 1", (wallet,)
        ).fetchone()
        if oldest is None or oldest[0] >= cutoff:
            return
        self._db.execute(
            "DELETE FROM events WHERE wallet = ? AND ts < ? AND seq IN "
            "(SELECT seq FROM events WHERE wallet = ? AND seq < ? ORDER BY seq LIMIT ?)",
            (wallet, cutoff, wallet, head, _AGE_TRIM_BATCH),
        )

    def _use_nonce(self, nonce: str, expires_at: float) -> bool:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            now = datetime.now(UTC).timestamp()
            db.execute("DELETE FROM used_nonces WHERE expires_at < ?", (now,))
            inserted = db.execute(
                "INSERT OR IGNORE INTO used_nonces (nonce, expires_at) VALUES (?, ?)",
                (nonce, expires_at),
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return inserted == 1

    def _revoke(self, token_id: str | None, wallet: str | None, at: float) -> None:
        self._db.execute(
            "INSERT INTO revocations (token_id, wallet, at) VALUES (?, ?, ?)",
            (token_id, wallet, at),
        )

    def _find_revocation(
        self, token_id: str, wallet: str, issued_at: float
    ) -> tuple[str | None, str | None, float] | None:
        row = self._db.execute(
            "SELECT token_id, wallet, at FROM revocations "
            "WHERE token_id = ? OR (wallet = ? AND at >= ?) LIMIT 1",
            (token_id, wallet, issued_at),
        ).fetchone()
        return None if row is None else (row[0], row[1], float(row[2]))

    def _last_revocation(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM revocations").fetchone()
        return int(row[0])

    def _revocations_after(self, last: int) -> list[tuple[int, str | None, str | None, float]]:
        rows = self._db.execute(
            "SELECT id, token_id, wallet, at FROM revocations WHERE id > ? ORDER BY id", (last,)
        ).fetchall()
        return [(int(r[0]), r[1], r[2], float(r[3])) for r in rows]

    def _ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

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
        # model_construct: rows were valid when written; re-validating would recompute
        # the wallet's EIP-55 checksum for every replayed frame. The event is parsed.
        return [
            EventFrame.model_construct(
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


def _revocation(row: tuple[str | None, str | None, float]) -> Revocation:
    token_id, wallet, at = row
    return Revocation(at=datetime.fromtimestamp(at, tz=UTC), token_id=token_id, wallet=wallet)
