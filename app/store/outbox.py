"""What the app has to tell the gateway, kept until it is delivered: the offline outbox.

Acks, read marks and preference updates made while offline (or in flight when
the link dropped) wait here, in the same SQLite file as the event store, and
are sent in the order they were queued after the next successful sign-in. An
app restart keeps them.

Every message has an idempotency ``key`` (the gateway answers a repeated key
without applying it twice), a time to live (an expired message is dropped, not
sent late) and an optional ``slot``: a newer message in the same slot replaces
the older one (only the latest read mark or preference value matters). The
outbox holds at most ``limit`` messages; beyond it the oldest are dropped, and
each drop is counted and logged: the outbox never grows without bound.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from app.store.events import StoreError
from app.store.handle import SqliteHandle

logger = logging.getLogger("seller_notifier.store")

DEFAULT_LIMIT: Final = 1000
"""Messages kept at most; the oldest are dropped beyond it."""
DEFAULT_TTL: Final = timedelta(days=1)
"""How long a message may wait for a connection before it is dropped as stale."""
KEY_LIMIT: Final = 64
"""Longest idempotency key (it is echoed as the frame's ``ref``, which has this limit)."""

_SCHEMA: Final = (
    """
    CREATE TABLE IF NOT EXISTS outbox_messages (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        slot TEXT UNIQUE,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        expires_us INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS outbox_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )
    """,
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One queued message. ``body`` is a JSON object; ``kind`` says what it is
    (``ack``, ``read_mark``, ``preferences`` …)."""

    key: str
    kind: str
    body: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    slot: str | None = None


class Outbox(SqliteHandle):
    """The outbox in the SQLite file at ``path`` (``":memory:"``: kept in memory only).

    Open the :class:`~app.store.events.ClientStore` of the same file first: it
    creates the file and its schema, and refuses a file it did not create.
    ``limit`` and ``ttl`` bound the queue by count and by age. Use from one
    thread; every method raises :class:`~app.store.events.StoreError` when the
    database cannot be used. ``clock`` returns the current UTC time (a seam for tests).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        limit: int = DEFAULT_LIMIT,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self.path = str(path)
        self.limit = limit
        self.ttl = ttl
        self._clock = clock if clock is not None else _utc_now
        try:
            # An in-memory outbox belongs to one session object, and garbage collection
            # may finalise it on another thread (a test's gateway thread, say).
            private = self.path == ":memory:"
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=not private)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the outbox in {self.path}: {exc}") from None
        self._db: sqlite3.Connection | None = db
        try:
            db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                db.execute(statement)
        except sqlite3.Error as exc:
            db.close()
            self._db = None
            raise StoreError(f"cannot use the outbox in {self.path}: {exc}") from None

    # --- queueing ---------------------------------------------------------------------

    def put(
        self,
        kind: str,
        body: Mapping[str, Any],
        *,
        key: str | None = None,
        slot: str | None = None,
        ttl: timedelta | None = None,
    ) -> OutboxMessage:
        """Queue a message at the end; returns it (with its key).

        ``key``: the idempotency key (default: a new random one); putting a key
        that is already queued changes nothing and returns the queued message.
        ``slot``: a message already queued in this slot is replaced (the new one
        goes to the end, with its own key). Drops the oldest messages when the
        outbox is over its limit.
        """
        if key is not None and not 0 < len(key) <= KEY_LIMIT:
            raise ValueError(f"an outbox key has 1 to {KEY_LIMIT} characters")
        now = self._clock()
        message = OutboxMessage(
            key=key if key is not None else uuid.uuid4().hex,
            kind=kind,
            body=dict(body),
            created_at=now,
            expires_at=now + (ttl if ttl is not None else self.ttl),
            slot=slot,
        )
        text = json.dumps(message.body, separators=(",", ":"), ensure_ascii=False)
        try:
            with self._transaction() as db:
                existing = db.execute(
                    "SELECT kind, body, created_us, expires_us, slot FROM outbox_messages "
                    "WHERE key = ?",
                    (message.key,),
                ).fetchone()
                if existing is not None:
                    return _message(message.key, *existing)
                if slot is not None:
                    db.execute("DELETE FROM outbox_messages WHERE slot = ?", (slot,))
                db.execute(
                    "INSERT INTO outbox_messages (key, slot, kind, body, created_us, expires_us) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        message.key,
                        slot,
                        kind,
                        text,
                        _microseconds(message.created_at),
                        _microseconds(message.expires_at),
                    ),
                )
                dropped = self._drop_over_limit(db)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot queue a {kind} message in {self.path}: {exc}") from None
        if dropped:
            kinds = ", ".join(sorted({kind for kind in dropped}))
            logger.warning(
                "outbox full (%d messages): dropped the %d oldest (%s); %d dropped in all",
                self.limit,
                len(dropped),
                kinds,
                self.dropped,
            )
        return message

    def _drop_over_limit(self, db: sqlite3.Connection) -> list[str]:
        over = int(db.execute("SELECT count(*) FROM outbox_messages").fetchone()[0]) - self.limit
        if over <= 0:
            return []
        rows = db.execute(
            "SELECT position, kind FROM outbox_messages ORDER BY position LIMIT ?", (over,)
        ).fetchall()
        db.execute(
            "DELETE FROM outbox_messages WHERE position <= ?", (int(rows[-1][0]),)
        )
        self._count(db, "dropped", len(rows))
        return [str(kind) for _, kind in rows]

    # --- sending ----------------------------------------------------------------------

    def pending(self) -> list[OutboxMessage]:
        """Every message still to send, oldest first; expired ones are dropped (and counted)."""
        now = _microseconds(self._clock())
        try:
            with self._transaction() as db:
                expired = db.execute(
                    "SELECT kind FROM outbox_messages WHERE expires_us <= ?", (now,)
                ).fetchall()
                if expired:
                    db.execute("DELETE FROM outbox_messages WHERE expires_us <= ?", (now,))
                    self._count(db, "expired", len(expired))
                rows = db.execute(
                    "SELECT key, kind, body, created_us, expires_us, slot FROM outbox_messages "
                    "ORDER BY position"
                ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the outbox in {self.path}: {exc}") from None
        if expired:
            logger.warning(
                "outbox: %d message(s) expired before a connection came back (%s); dropped",
                len(expired),
                ", ".join(sorted({str(kind) for (kind,) in expired})),
            )
        return [_message(*row) for row in rows]

    def remove(self, key: str) -> bool:
        """The message was delivered (or refused for good): forget it. False if unknown."""
        try:
            with self._transaction() as db:
                removed = db.execute("DELETE FROM outbox_messages WHERE key = ?", (key,)).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update the outbox in {self.path}: {exc}") from None
        return removed == 1

    def __len__(self) -> int:
        return int(self._value("SELECT count(*) FROM outbox_messages", ()))

    @property
    def dropped(self) -> int:
        """Messages dropped because the outbox was full, since the file was created."""
        return self._counter("dropped")

    @property
    def expired(self) -> int:
        """Messages dropped because their time to live ran out, since the file was created."""
        return self._counter("expired")

    # --- plumbing ---------------------------------------------------------------------

    def _counter(self, name: str) -> int:
        return int(self._value("SELECT value FROM outbox_counters WHERE name = ?", (name,)) or 0)

    @staticmethod
    def _count(db: sqlite3.Connection, name: str, amount: int) -> None:
        db.execute(
            "INSERT INTO outbox_counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )

    def _value(self, sql: str, parameters: tuple[object, ...]) -> Any:
        try:
            row = self._connection().execute(sql, parameters).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the outbox in {self.path}: {exc}") from None
        return None if row is None else row[0]

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the outbox is closed")
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")



def _utc_now() -> datetime:
    return datetime.now(UTC)


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _message(
    key: str, kind: str, body: str, created_us: int, expires_us: int, slot: str | None
) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        kind=kind,
        body=json.loads(body),
        created_at=_EPOCH + timedelta(microseconds=created_us),
        expires_at=_EPOCH + timedelta(microseconds=expires_us),
        slot=slot,
    )
