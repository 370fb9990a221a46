"""Events a device will never receive, on record: the gaps the gateway reported.

When the gateway no longer retains the events after a device's position (it
says so with a ``gap`` frame), or an event is unreadable however often it is
asked for, the client writes the range here, in the same SQLite file as the
event store. A gap is never silent: the app shows it when it happens, and the
record lets the dashboard (or a support request) tell later what was lost.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from app.store.events import StoreError
from app.store.handle import SqliteHandle

_SCHEMA: Final = """
    CREATE TABLE IF NOT EXISTS gap_records (
        rowid INTEGER PRIMARY KEY,
        wallet TEXT NOT NULL,
        from_seq INTEGER NOT NULL,
        to_seq INTEGER NOT NULL,
        reason TEXT NOT NULL,
        detected_us INTEGER NOT NULL,
        UNIQUE (wallet, from_seq, to_seq)
    )
"""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GapRecord:
    """Events ``from_seq``..``to_seq`` of ``wallet`` were lost, for ``reason``."""

    wallet: str
    from_seq: int
    to_seq: int
    reason: str
    detected_at: datetime

    @property
    def count(self) -> int:
        return self.to_seq - self.from_seq + 1


class GapLog(SqliteHandle):
    """Gap records in the SQLite file at ``path`` (``":memory:"``: in memory only).

    Open the :class:`~app.store.events.ClientStore` of the same file first (it
    creates the file). Methods raise :class:`~app.store.events.StoreError`.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the gap records in {self.path}: {exc}") from None
        self._db: sqlite3.Connection | None = db
        try:
            db.execute("PRAGMA busy_timeout=5000")
            db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            self._db = None
            raise StoreError(f"cannot use the gap records in {self.path}: {exc}") from None

    def record(self, wallet: str, from_seq: int, to_seq: int, reason: str) -> bool:
        """Write one lost range; False if this exact range was already on record."""
        now = (datetime.now(UTC) - _EPOCH) // timedelta(microseconds=1)
        try:
            written = self._connection().execute(
                "INSERT INTO gap_records (wallet, from_seq, to_seq, reason, detected_us) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (wallet, from_seq, to_seq) DO NOTHING",
                (wallet, from_seq, to_seq, reason, now),
            ).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"cannot record a gap in {self.path}: {exc}") from None
        return written == 1

    def recent(self, limit: int = 50, wallet: str | None = None) -> list[GapRecord]:
        """Up to ``limit`` gaps, the most recently detected first."""
        sql = "SELECT wallet, from_seq, to_seq, reason, detected_us FROM gap_records"
        parameters: tuple[object, ...] = (limit,)
        if wallet is not None:
            sql += " WHERE wallet = ?"
            parameters = (wallet, limit)
        sql += " ORDER BY detected_us DESC, rowid DESC LIMIT ?"
        try:
            rows = self._connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the gap records in {self.path}: {exc}") from None
        return [
            GapRecord(
                wallet=row_wallet,
                from_seq=int(from_seq),
                to_seq=int(to_seq),
                reason=reason,
                detected_at=_EPOCH + timedelta(microseconds=int(detected_us)),
            )
            for row_wallet, from_seq, to_seq, reason, detected_us in rows
        ]

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the gap records are closed")
        return self._db

