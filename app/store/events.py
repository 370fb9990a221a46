"""The tray app's record of received events and of how far each wallet's log was read.

An event and its wallet's position are written in one transaction, so after a
crash or a power cut the database either has both or neither: the next
connection asks for ``since = last_seq(wallet)`` and gets back exactly what is
missing. Events of types this version does not know are kept as received.

The same transaction folds the event into the seller's tables (orders, payments,
reviews, tier, analytics: ``app.store.folded``) and lists its notice in the
history (``app.store.history``); those tables are caches of the events and can be
rebuilt from them (:meth:`ClientStore.refold`). Schema versions and migrations
are in ``app.store.schema``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from app.domain.folding import (
    AnalyticsSnapshot,
    Order,
    Payment,
    Review,
    Tier,
    order_id_of,
)
from app.domain.metrics import RatingSummary
from app.domain.notices import Notice
from app.protocol import EventFrame, describe_error
from app.store import folded, history, refold
from app.store.columns import from_microseconds, load_frame, microseconds
from app.store.errors import StoreError
from app.store.handle import SqliteHandle
from app.store.history import StoredNotice
from app.store.schema import SCHEMA_VERSION, check_version, migrate

__all__ = ["SCHEMA_VERSION", "ClientStore", "StoreError"]

logger = logging.getLogger("seller_notifier.store")

T = TypeVar("T")


class ClientStore(SqliteHandle):
    """Received events, per-wallet positions, and what they fold into, in one SQLite file.

    Recording an event also folds it into the orders, payments, reviews, tier and
    analytics tables and lists its notice in the history, in the same transaction
    (see :meth:`record`). ``path`` may be ``":memory:"`` (nothing survives
    ``close()``). Use from one thread (the event loop's). Every method raises
    :class:`StoreError` when the database cannot be used, never a bare ``sqlite3``
    error.
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
        self._batching = False
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        db = self._connection()
        try:
            # The version is checked before anything is written (journal mode
            # included): a newer store is refused untouched.
            check_version(db, self.path)
            db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL can lose the last commits on power loss but never corrupts;
            # a lost event is fetched again since its position was lost with it.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            migrate(db, self.path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use the event store {self.path}: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the event store is closed")
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        if self._batching:
            # Inside batch(): each write stays atomic on its own, committed with the batch.
            db.execute("SAVEPOINT write")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK TO write")
                db.execute("RELEASE write")
                raise
            db.execute("RELEASE write")
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit every write made inside at once: one commit for a burst of events.

        Each :meth:`record` inside is still all-or-nothing on its own (a failed one
        changes nothing), but nothing inside is durable, or visible to another
        connection, until the block ends. If the block raises, or the commit
        fails (:class:`StoreError`), *every* write inside is rolled back: callers
        must not show what they recorded inside before the block has ended.
        Do not await inside (the database stays locked for other connections),
        and do not nest.
        """
        if self._batching:
            raise RuntimeError("ClientStore.batch() does not nest")
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the event store {self.path}: {exc}") from None
        self._batching = True
        try:
            yield
        except BaseException:
            self._batching = False
            self._roll_back(db)
            raise
        self._batching = False
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._roll_back(db)
            raise StoreError(f"cannot save events to {self.path}: {exc}") from None

    @staticmethod
    def _roll_back(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                logger.exception("could not roll back a batch of writes")

    # --- events and positions ---------------------------------------------------------

    def record(self, frame: EventFrame, *, position: int | None = None) -> bool:
        """Store one received event and move its wallet's position, atomically.

        A new event is also folded into the seller's tables and its notice added to
        the history (unread) in the same transaction. Should folding ever fail, the
        event is still stored (it is what matters; :meth:`refold` rebuilds the
        tables from it) and the failure is logged.

        ``position``: the seq up to which this wallet's events are all stored
        (default ``frame.seq``); a client that received events out of order
        passes the last contiguous seq so a resume fills the hole. The position
        is written even for a duplicate. Returns False if an event with this id
        was already stored for this wallet (nothing else is changed then).
        """
        now = microseconds(datetime.now(UTC))
        try:
            with self._transaction() as db:
                inserted = db.execute(
                    "INSERT INTO events (wallet, seq, id, ts_us, type, frame, received_us, "
                    "subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (wallet, id) DO NOTHING",
                    (
                        frame.wallet,
                        frame.seq,
                        frame.id,
                        microseconds(frame.ts),
                        frame.event.type,
                        frame.model_dump_json(),
                        now,
                        order_id_of(frame),
                    ),
                ).rowcount
                if inserted == 1:
                    self._fold_in(db, frame)
                self._write_position(db, frame.wallet, frame.seq if position is None else position)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save event {frame.id} to {self.path}: {exc}") from None
        return inserted == 1

    @staticmethod
    def _fold_in(db: sqlite3.Connection, frame: EventFrame) -> None:
        db.execute("SAVEPOINT fold")
        try:
            folded.apply(db, frame)
            history.add_event_notice(db, frame)
        except Exception:
            db.execute("ROLLBACK TO fold")
            logger.exception(
                "could not fold event %s of %s; it is stored, and a refold rebuilds the tables",
                frame.seq,
                frame.wallet,
            )
        db.execute("RELEASE fold")

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
            (wallet, seq, microseconds(datetime.now(UTC))),
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

    def last_synced_at(self, wallet: str | None = None) -> datetime | None:
        """When an event (or a position) was last stored, for ``wallet`` or any; None if never.

        Offline, the data shown is as current as this.
        """
        if wallet is None:
            rows = self._query("SELECT max(updated_us) FROM positions", ())
        else:
            rows = self._query("SELECT updated_us FROM positions WHERE wallet = ?", (wallet,))
        value = rows[0][0] if rows else None
        return from_microseconds(int(value)) if value is not None else None

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
        return self._frames(rows)

    def order_events(self, wallet: str, order_id: str) -> list[EventFrame]:
        """Every stored event about one order (its placement, status changes, payments
        and reviews), oldest first by gateway time and seq."""
        rows = self._query(
            "SELECT frame, wallet, seq FROM events WHERE wallet = ? AND subject = ? "
            "ORDER BY ts_us, seq, rowid",
            (wallet, order_id),
        )
        return self._frames(rows)

    @staticmethod
    def _frames(rows: Iterable[tuple[str, str, int]]) -> list[EventFrame]:
        frames = []
        for text, row_wallet, seq in rows:
            try:
                frames.append(load_frame(text))
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

    # --- the folded tables ------------------------------------------------------------
    # ``wallet=None`` reads every wallet's rows.

    def orders(self, wallet: str | None = None) -> list[Order]:
        """Every folded order (in no particular order)."""
        return self._read(folded.orders, wallet)

    def order(self, wallet: str, order_id: str) -> Order | None:
        return self._read(folded.order, wallet, order_id)

    def orders_by_id(self, wallet: str, order_ids: Collection[str]) -> list[Order]:
        """The orders among ``order_ids`` that are known (in no particular order)."""
        return self._read(folded.orders_by_id, wallet, order_ids)

    def payments(self, wallet: str | None = None, order_id: str | None = None) -> list[Payment]:
        """Payments, oldest first (all, or those naming ``order_id``)."""
        return self._read(folded.payments, wallet, order_id)

    def reviews(
        self, wallet: str | None = None, order_id: str | None = None, limit: int = -1
    ) -> list[Review]:
        """Reviews, newest first (all, or those naming ``order_id``; ``limit`` -1: no limit)."""
        return self._read(folded.reviews, wallet, order_id, limit)

    def rating_summary(self, wallet: str | None = None) -> RatingSummary:
        return self._read(folded.rating_summary, wallet)

    def tier(self, wallet: str) -> Tier | None:
        """The wallet's current tier with its benefits; None before any tier event."""
        return self._read(folded.tier, wallet)

    def analytics(
        self, wallet: str | None = None, period: str | None = None, limit: int = -1
    ) -> list[AnalyticsSnapshot]:
        """Analytics snapshots, newest first (all periods, or one)."""
        return self._read(folded.analytics, wallet, period, limit)

    def latest_analytics(self, wallet: str, period: str = "today") -> AnalyticsSnapshot | None:
        found = self.analytics(wallet, period, 1)
        return found[0] if found else None

    def refold(self, keys: Collection[str], wallet: str | None = None) -> frozenset[str]:
        """Rebuild the folded rows that cache ``keys`` name from the stored events, now.

        Keys: ``orders``, ``order:<id>``, ``payments``, ``reviews``, ``tier``,
        ``profile``, ``analytics`` (``analytics:<period>``), for ``wallet`` or for
        every wallet. Returns the keys that were rebuilt; others (``catalogue`` …)
        name nothing kept here. Parses every event behind the keys: for a large
        store from the event loop, use :meth:`refold_in_background`.
        """
        try:
            with self._transaction() as db:
                return refold.apply(db, refold.plan(db, keys, wallet))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot rebuild {', '.join(keys)} in {self.path}: {exc}") from None

    async def refold_in_background(
        self, keys: Collection[str], wallet: str | None = None
    ) -> frozenset[str]:
        """:meth:`refold`, with the slow part (reading and folding the events) in a
        worker thread; only the few rows that differ are written on this thread."""
        if self.path == ":memory:":  # a second connection would see another database
            return self.refold(keys, wallet)
        try:
            planned = await asyncio.to_thread(refold.plan_file, self.path, keys, wallet)
            with self._transaction() as db:
                return refold.apply(db, planned)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot rebuild {', '.join(keys)} in {self.path}: {exc}") from None

    # --- the notification history -----------------------------------------------------

    def notices(
        self, limit: int = 500, wallet: str | None = None, *, after_id: int = 0
    ) -> list[StoredNotice]:
        """Up to ``limit`` notices, most recently added first; the app's own notices
        belong to every wallet. ``after_id``: only notices added after that one."""
        return self._read(history.notices, limit, wallet, after_id=after_id)

    def unread_count(self, wallet: str | None = None) -> int:
        return self._read(history.unread_count, wallet)

    def add_notice(self, notice: Notice) -> int:
        """Add one of the app's own notices (missed events …) to the history; its id."""
        return self._write("the notice", history.add_notice, notice)

    def mark_read(self, ids: Collection[int]) -> int:
        """Mark these notices read; returns how many were unread."""
        return self._write("read marks", history.mark_read, ids)

    def mark_all_read(self, wallet: str | None = None) -> int:
        """Mark every notice read; returns how many were unread."""
        return self._write("read marks", history.mark_all_read, wallet)

    # --- plumbing -----------------------------------------------------------------------

    def _read(self, reader: Callable[..., T], *arguments: Any, **keywords: Any) -> T:
        db = self._connection()
        try:
            return reader(db, *arguments, **keywords)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the event store {self.path}: {exc}") from None

    def _write(self, what: str, writer: Callable[..., T], *arguments: Any) -> T:
        try:
            with self._transaction() as db:
                return writer(db, *arguments)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save {what} to {self.path}: {exc}") from None

    def _query(self, sql: str, parameters: tuple[object, ...]) -> list[Any]:
        try:
            return self._connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the event store {self.path}: {exc}") from None

