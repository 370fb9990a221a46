"""The tray app's record of received events and of how far each wallet's log was read.

An event and its wallet's position are written in one transaction, so after a
crash or a power cut the database either has both or neither: the next
connection asks for ``since = last_seq(wallet)`` and gets back exactly what is
missing. Events of types this version does not know are kept as received.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from pydantic import ValidationError

from app.protocol import EventFrame, UnknownEvent, describe_error

logger = logging.getLogger("seller_notifier.store")

SCHEMA_VERSION: Final = 1
"""``PRAGMA user_version`` of a store written by this version."""

_MIGRATIONS: Final[dict[int, str]] = {
    # version → the script that brings a store from version - 1 to it.
    1: """
        CREATE TABLE events (
            rowid INTEGER PRIMARY KEY,
            wallet TEXT NOT NULL,
            seq INTEGER NOT NULL,
            id TEXT NOT NULL,
            ts_us INTEGER NOT NULL,
            type TEXT NOT NULL,
            frame TEXT NOT NULL,
            received_us INTEGER NOT NULL,
            UNIQUE (wallet, id)
        );
        CREATE INDEX events_by_time ON events (ts_us DESC, seq DESC);
        CREATE INDEX events_by_wallet_time ON events (wallet, ts_us DESC, seq DESC);
        CREATE TABLE positions (
            wallet TEXT PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            updated_us INTEGER NOT NULL
        );
    """,
}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says why, for a person."""


def _microseconds(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def _load_frame(text: str) -> EventFrame:
    try:
        return EventFrame.model_validate_json(text)
    except ValidationError:
        # A known type this version could not read when it arrived was kept as an
        # UnknownEvent (see ClientSession); it is read back the same way.
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("event"), dict):
            raise
        return EventFrame.model_validate(
            {**raw, "event": UnknownEvent.model_validate(raw["event"])}
        )


class ClientStore:
    """Received events and per-wallet positions in one SQLite file.

    ``path`` may be ``":memory:"`` (nothing survives ``close()``). Use from one
    thread (the event loop's). Every method raises :class:`StoreError` when the
    database cannot be used, never a bare ``sqlite3`` error.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # Autocommit mode: transactions are explicit (see _transaction).
            db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the event store {self.path}: {exc}") from None
        self._db: sqlite3.Connection | None = db
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        db = self._connection()
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the event store {self.path} was written by a newer version of "
                    f"Seller Notifier (schema {version}; this version knows up to "
                    f"{SCHEMA_VERSION}): update Seller Notifier or move the file away"
                )
            if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"{self.path} is not a Seller Notifier event store: move it away")
            db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL can lose the last commits on power loss but never corrupts;
            # a lost event is fetched again since its position was lost with it.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._transaction():
                    for statement in _MIGRATIONS[target].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={target}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use the event store {self.path}: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the event store is closed")
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

    def record(self, frame: EventFrame, *, position: int | None = None) -> bool:
        """Store one received event and move its wallet's position, atomically.

        ``position``: the seq up to which this wallet's events are all stored
        (default ``frame.seq``); a client that received events out of order
        passes the last contiguous seq so a resume fills the hole. The position
        is written even for a duplicate. Returns False if an event with this id
        was already stored for this wallet (nothing else is changed then).
        """
        now = _microseconds(datetime.now(UTC))
        try:
            with self._transaction() as db:
                inserted = db.execute(
                    "INSERT INTO events (wallet, seq, id, ts_us, type, frame, received_us) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (wallet, id) DO NOTHING",
                    (
                        frame.wallet,
                        frame.seq,
                        frame.id,
                        _microseconds(frame.ts),
                        frame.event.type,
                        frame.model_dump_json(),
                        now,
                    ),
                ).rowcount
                self._write_position(db, frame.wallet, frame.seq if position is None else position)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save event {frame.id} to {self.path}: {exc}") from None
        return inserted == 1

    def set_position(self, wallet: str, seq: int) -> None:
        """Set how far ``wallet``'s log is stored (e.g. past a gap the gateway reported)."""
        try:
            with self._transaction() as db:
                self._write_position(db, wallet, seq)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save {wallet}'s position to {self.path}: {exc}") from None

    @staticmethod
    def _write_position(db: sqlite3.Connection, wallet: str, seq: int) -> None:
        db.execute(
            "INSERT INTO positions (wallet, last_seq, updated_us) VALUES (?, ?, ?) "
            "ON CONFLICT (wallet) DO UPDATE SET last_seq = excluded.last_seq, "
            "updated_us = excluded.updated_us",
            (wallet, seq, _microseconds(datetime.now(UTC))),
        )

    def last_seq(self, wallet: str) -> int | None:
        """The seq up to which ``wallet``'s events are stored; None if never connected."""
        row = self._query("SELECT last_seq FROM positions WHERE wallet = ?", (wallet,))
        return int(row[0][0]) if row else None

    def latest_position(self) -> tuple[str, int] | None:
        """The wallet whose position changed last, and that position; None if empty.

        Lets a client that does not know its wallet yet (the token decides it)
        resume where the previous run stopped.
        """
        rows = self._query(
            "SELECT wallet, last_seq FROM positions ORDER BY updated_us DESC, rowid DESC LIMIT 1",
            (),
        )
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def recent(self, limit: int = 200, wallet: str | None = None) -> list[EventFrame]:
        """Up to ``limit`` stored events, newest (by gateway time, then seq) first.

        A row that no longer parses (written by a different version) is skipped
        and logged rather than failing the whole list.
        """
        if wallet is None:
            rows = self._query(
                "SELECT frame, wallet, seq FROM events ORDER BY ts_us DESC, seq DESC, rowid DESC "
                "LIMIT ?",
                (limit,),
            )
        else:
            rows = self._query(
                "SELECT frame, wallet, seq FROM events WHERE wallet = ? "
                "ORDER BY ts_us DESC, seq DESC, rowid DESC LIMIT ?",
                (wallet, limit),
            )
        frames = []
        for text, row_wallet, seq in rows:
            try:
                frames.append(_load_frame(text))
            except ValueError as exc:  # pydantic's ValidationError and JSON errors
                reason = describe_error(exc) if isinstance(exc, ValidationError) else str(exc)
                logger.warning(
                    "skipping stored event %s of %s that does not parse: %s",
                    seq,
                    row_wallet,
                    reason,
                )
        return frames

    def count(self, wallet: str | None = None) -> int:
        """How many events are stored (for one wallet, or in all)."""
        if wallet is None:
            rows = self._query("SELECT count(*) FROM events", ())
        else:
            rows = self._query("SELECT count(*) FROM events WHERE wallet = ?", (wallet,))
        return int(rows[0][0])

    def _query(self, sql: str, parameters: tuple[object, ...]) -> list[Any]:
        try:
            return self._connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the event store {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the database; further calls raise :class:`StoreError`. Idempotent."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
