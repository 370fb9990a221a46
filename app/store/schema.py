"""The client store's schema and its versioned migrations (``PRAGMA user_version``).

Version history:

1. ``events`` (every received event, as received) and ``positions`` (how far
   each wallet's log is stored).
2. The folded tables (``orders``, ``payments``, ``reviews``, ``tiers``,
   ``analytics``), the notification history (``notifications``) and
   ``events.subject`` (the order an event is about). Upgrading a version-1 store
   folds its events into the new tables and lists their notices as already read.

Each step runs in its own transaction together with the version bump, so a store
is always at one version or the next, never in between. A store written by a newer
version is refused, untouched, with a message saying so.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Final

from app.domain.folding import SellerState, order_id_of
from app.store import folded, history
from app.store.columns import load_frame
from app.store.errors import StoreError

logger = logging.getLogger("seller_notifier.store")

SCHEMA_VERSION: Final = 2
"""``PRAGMA user_version`` of a store written by this version."""

_V1: Final = """
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
    )
"""

_V2: Final = """
    ALTER TABLE events ADD COLUMN subject TEXT;
    CREATE INDEX events_by_subject ON events (wallet, subject) WHERE subject IS NOT NULL
"""


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(db: sqlite3.Connection) -> None:
        # Not executescript(): it would COMMIT the migration's transaction halfway.
        for statement in sql.split(";"):
            if statement.strip():
                db.execute(statement)

    return run


def _to_v2(db: sqlite3.Connection) -> None:
    for sql in (_V2, folded.TABLES_SQL, history.TABLE_SQL):
        _script(sql)(db)
    state = SellerState()
    rows = db.execute("SELECT rowid, frame, seq, wallet FROM events ORDER BY rowid").fetchall()
    for rowid, text, seq, wallet in rows:
        try:
            frame = load_frame(text)
        except ValueError as exc:
            logger.warning(
                "not folding stored event %s of %s that does not parse: %s", seq, wallet, exc
            )
            continue
        subject = order_id_of(frame)
        if subject is not None:
            db.execute("UPDATE events SET subject = ? WHERE rowid = ?", (subject, rowid))
        state.apply(frame)
        # These events were shown when they arrived: the history starts out read.
        history.add_event_notice(db, frame, read=True)
    folded.write_state(db, state)


MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {
    # version → the step that brings a store from version - 1 to it.
    1: _script(_V1),
    2: _to_v2,
}


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def check_version(db: sqlite3.Connection, path: str | Path) -> int:
    """The store's version; raises :class:`StoreError` if this version cannot use it."""
    version = user_version(db)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the event store {path} was written by a newer version of "
            f"Seller Notifier (schema {version}; this version knows up to "
            f"{SCHEMA_VERSION}): update Seller Notifier or move the file away"
        )
    if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise StoreError(f"{path} is not a Seller Notifier event store: move it away")
    return version


def migrate(db: sqlite3.Connection, path: str | Path) -> None:
    """Bring the store (in autocommit mode) to :data:`SCHEMA_VERSION`, one step at a time."""
    for target in range(check_version(db, path) + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have taken this step while we waited for the lock.
            if user_version(db) < target:
                logger.info("upgrading the event store %s to schema %d", path, target)
                MIGRATIONS[target](db)
                db.execute(f"PRAGMA user_version={target}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
