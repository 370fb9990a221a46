"""The notification history: every notice the seller was given, read or unread.

A notice for each stored event is added in the transaction that stores the event,
so the history and the events never disagree; the app's own notices (missed
events …) are added with :func:`add_notice`. Silent notices (``cache_invalidate``)
are listed but start as read: they never ask for attention.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from app.domain.notices import Notice, Priority, describe
from app.protocol import EventFrame
from app.store.columns import from_microseconds, microseconds

TABLE_SQL: Final = """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        wallet TEXT,
        event_id TEXT,
        seq INTEGER,
        ts_us INTEGER NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        priority TEXT NOT NULL,
        icon TEXT NOT NULL,
        order_id TEXT,
        silent INTEGER NOT NULL,
        read INTEGER NOT NULL,
        UNIQUE (wallet, event_id)
    );
    CREATE INDEX notifications_unread ON notifications (wallet) WHERE read = 0
"""
"""The table as schema version 2 creates it (``app.store.schema``)."""


@dataclass(frozen=True, slots=True)
class StoredNotice:
    """A notice in the history: its row ``id`` (for :func:`mark_read`) and whether it was read."""

    id: int
    notice: Notice
    read: bool


def add_event_notice(db: sqlite3.Connection, frame: EventFrame, *, read: bool = False) -> None:
    """List the notice for a stored event (once per wallet and event id)."""
    notice = describe(frame)
    _insert(db, notice, read=read or notice.silent)


def add_notice(db: sqlite3.Connection, notice: Notice, *, read: bool = False) -> int:
    """List one of the app's own notices; returns its id."""
    return _insert(db, notice, read=read or notice.silent)


def _insert(db: sqlite3.Connection, notice: Notice, *, read: bool) -> int:
    ts = notice.ts if notice.ts is not None else datetime.now(UTC)
    cursor = db.execute(
        "INSERT INTO notifications (wallet, event_id, seq, ts_us, kind, title, body, priority, "
        "icon, order_id, silent, read) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (wallet, event_id) DO NOTHING",
        (
            notice.wallet,
            notice.event_id,
            notice.seq,
            microseconds(ts),
            notice.kind,
            notice.title,
            notice.body,
            notice.priority.value,
            notice.icon,
            notice.order_id,
            int(notice.silent),
            int(read),
        ),
    )
    return int(cursor.lastrowid or 0)


_SELECT: Final = (
    "SELECT id, wallet, event_id, seq, ts_us, kind, title, body, priority, icon, order_id, "
    "silent, read FROM notifications"
)


def _wallet_clause(wallet: str | None) -> tuple[str, tuple[str, ...]]:
    # The app's own notices have no wallet: they belong to every wallet's history.
    # Written as one expression so SQLite walks the newest ids and stops at the
    # limit, instead of collecting the wallet's whole history through an index.
    if wallet is None:
        return "", ()
    return "ifnull(wallet, ?) = ?", (wallet, wallet)


def notices(
    db: sqlite3.Connection, limit: int = 500, wallet: str | None = None, *, after_id: int = 0
) -> list[StoredNotice]:
    """Up to ``limit`` notices, the most recently added first (``after_id``: only those
    added after it). A replay after a reconnect lists old events as they arrive."""
    clauses = ["id > ?"]
    parameters: tuple[object, ...] = (after_id,)
    where, extra = _wallet_clause(wallet)
    if where:
        clauses.append(where)
        parameters += extra
    rows = db.execute(
        f"{_SELECT} WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
        (*parameters, limit),
    )
    return [_stored(row) for row in rows]


def _stored(row: tuple[Any, ...]) -> StoredNotice:
    (
        row_id,
        wallet,
        event_id,
        seq,
        ts,
        kind,
        title,
        body,
        priority,
        icon,
        order_id,
        silent,
        read,
    ) = row
    try:
        level = Priority(priority)
    except ValueError:  # written by a newer version with more levels
        level = Priority.NORMAL
    notice = Notice(
        title=title,
        body=body,
        priority=level,
        kind=kind,
        icon=icon,
        order_id=order_id,
        wallet=wallet,
        seq=seq,
        event_id=event_id,
        ts=from_microseconds(ts),
        silent=bool(silent),
    )
    return StoredNotice(row_id, notice, bool(read))


def unread_count(db: sqlite3.Connection, wallet: str | None = None) -> int:
    where, parameters = _wallet_clause(wallet)
    sql = "SELECT count(*) FROM notifications WHERE read = 0"
    row = db.execute(f"{sql} AND {where}" if where else sql, parameters).fetchone()
    return int(row[0])


def mark_read(db: sqlite3.Connection, ids: Collection[int]) -> int:
    """Mark these notices read; returns how many were unread."""
    changed = 0
    for notice_id in ids:
        changed += db.execute(
            "UPDATE notifications SET read = 1 WHERE id = ? AND read = 0", (notice_id,)
        ).rowcount
    return changed


def mark_all_read(db: sqlite3.Connection, wallet: str | None = None) -> int:
    """Mark every notice read; returns how many were unread."""
    where, parameters = _wallet_clause(wallet)
    sql = "UPDATE notifications SET read = 1 WHERE read = 0"
    return int(db.execute(f"{sql} AND {where}" if where else sql, parameters).rowcount)
