"""The folded tables: orders, payments, reviews, tier and analytics kept up to date.

Each table is a cache of :mod:`app.domain.folding` applied to the ``events`` table:
:func:`apply` folds one new event in (inside the transaction that stores it), and
:mod:`app.store.refold` folds them again from the stored events (after a
``cache_invalidate``); a migration fills them the same way.
Functions take an open connection and leave transactions to the caller.
"""

from __future__ import annotations

import gc
import json
import logging
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final

from app.domain.cache import CacheKey
from app.domain.folding import (
    AnalyticsSnapshot,
    Kind,
    LineItem,
    Order,
    Payment,
    Placement,
    Review,
    SellerState,
    Stamp,
    Subject,
    Tier,
    fold_analytics,
    fold_order,
    fold_payment,
    fold_review,
    fold_tier,
    subject_of,
)
from app.domain.metrics import RatingSummary
from app.protocol import EventFrame
from app.store.columns import decimal_text, from_microseconds, load_frame, microseconds

logger = logging.getLogger("seller_notifier.store")

TABLES_SQL: Final = """
    CREATE TABLE orders (
        wallet TEXT NOT NULL,
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        status_at_us INTEGER NOT NULL,
        status_seq INTEGER NOT NULL,
        status_event TEXT NOT NULL,
        status_reason TEXT,
        total TEXT,
        currency TEXT,
        items TEXT,
        buyer TEXT,
        placed_at_us INTEGER,
        placement_seq INTEGER,
        placement_event TEXT,
        first_seen_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (wallet, order_id)
    );
    CREATE TABLE payments (
        wallet TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        order_id TEXT,
        payer TEXT,
        at_us INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (wallet, tx_hash)
    );
    CREATE INDEX payments_by_order ON payments (wallet, order_id);
    CREATE TABLE reviews (
        wallet TEXT NOT NULL,
        review_id TEXT NOT NULL,
        rating INTEGER NOT NULL,
        order_id TEXT,
        comment TEXT NOT NULL,
        reviewer TEXT,
        at_us INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (wallet, review_id)
    );
    CREATE INDEX reviews_by_order ON reviews (wallet, order_id);
    CREATE TABLE tiers (
        wallet TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        previous TEXT,
        benefits TEXT NOT NULL,
        at_us INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        event_id TEXT NOT NULL
    );
    CREATE TABLE analytics (
        wallet TEXT NOT NULL,
        event_id TEXT NOT NULL,
        period TEXT NOT NULL,
        views INTEGER NOT NULL,
        orders INTEGER NOT NULL,
        revenue TEXT NOT NULL,
        conversion_rate REAL,
        average_rating REAL,
        at_us INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (wallet, event_id)
    );
    CREATE INDEX analytics_latest ON analytics (wallet, period, at_us DESC, seq DESC)
"""
"""The tables as schema version 2 creates them (``app.store.schema``)."""

EVENT_TYPES: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.ORDER: ("new_order", "order_status_changed"),
    Kind.PAYMENT: ("payment_received",),
    Kind.REVIEW: ("review_received",),
    Kind.TIER: ("tier_upgraded",),
    Kind.ANALYTICS: ("analytics_update",),
}
"""The stored event types each collection is folded from."""

KINDS_OF_FAMILY: Final[dict[str, tuple[Kind, ...]]] = {
    CacheKey.ORDERS: (Kind.ORDER,),
    CacheKey.PAYMENTS: (Kind.PAYMENT,),
    CacheKey.REVIEWS: (Kind.REVIEW,),
    CacheKey.TIER: (Kind.TIER,),
    CacheKey.PROFILE: (Kind.TIER,),
    CacheKey.ANALYTICS: (Kind.ANALYTICS,),
}
"""Which tables a cache key (by its family) is rebuilt into."""


# --- folding one event in --------------------------------------------------------------


def apply(db: sqlite3.Connection, frame: EventFrame) -> Subject | None:
    """Fold one newly stored event into its table; returns what it changed."""
    subject = subject_of(frame)
    if subject is None:
        return None
    wallet, key = subject.wallet, subject.key
    match subject.kind:
        case Kind.ORDER:
            write_orders(db, [fold_order(order(db, wallet, key), frame)])
        case Kind.PAYMENT:
            current = _one(db, _PAYMENT_SELECT + " WHERE wallet = ? AND tx_hash = ?", (wallet, key))
            write_payments(db, [fold_payment(_payment(current) if current else None, frame)])
        case Kind.REVIEW:
            row = _one(db, _REVIEW_SELECT + " WHERE wallet = ? AND review_id = ?", (wallet, key))
            write_reviews(db, [fold_review(_review(row) if row else None, frame)])
        case Kind.TIER:
            write_tier(db, fold_tier(tier(db, wallet), frame))
        case Kind.ANALYTICS:
            row = _one(db, _ANALYTICS_SELECT + " WHERE wallet = ? AND event_id = ?", (wallet, key))
            write_analytics(db, [fold_analytics(_snapshot(row) if row else None, frame)])
    return subject


def write_state(db: sqlite3.Connection, state: SellerState) -> None:
    """Write every folded value of ``state`` (replacing rows with the same keys)."""
    write_orders(db, state.orders.values())
    write_payments(db, state.payments.values())
    write_reviews(db, state.reviews.values())
    for value in state.tiers.values():
        write_tier(db, value)
    write_analytics(db, state.analytics.values())


TABLES: Final = {
    Kind.ORDER: "orders",
    Kind.PAYMENT: "payments",
    Kind.REVIEW: "reviews",
    Kind.TIER: "tiers",
    Kind.ANALYTICS: "analytics",
}
_KEY_COLUMNS: Final = {
    Kind.ORDER: "order_id",
    Kind.PAYMENT: "tx_hash",
    Kind.REVIEW: "review_id",
    Kind.TIER: "''",
    Kind.ANALYTICS: "event_id",
}


def delete(db: sqlite3.Connection, kind: Kind, wallet: str, key: str) -> None:
    """Remove one folded row (``key`` as :class:`~app.domain.folding.Subject` names it)."""
    db.execute(
        f"DELETE FROM {TABLES[kind]} WHERE wallet = ? AND {_KEY_COLUMNS[kind]} = ?", (wallet, key)
    )


def _wallet_clause(wallet: str | None) -> tuple[str, tuple[str, ...]]:
    return ("WHERE wallet = ?", (wallet,)) if wallet is not None else ("", ())


# --- orders ------------------------------------------------------------------------------

_ORDER_COLUMNS: Final = (
    "wallet, order_id, status, status_at_us, status_seq, status_event, status_reason, total, "
    "currency, items, buyer, placed_at_us, placement_seq, placement_event, first_seen_us, "
    "updated_us, last_seq"
)
_ORDER_SELECT: Final = f"SELECT {_ORDER_COLUMNS} FROM orders"


def write_orders(db: sqlite3.Connection, orders: Iterable[Order]) -> None:
    db.executemany(
        f"INSERT OR REPLACE INTO orders ({_ORDER_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (_order_row(value) for value in orders),
    )


def _order_row(order: Order) -> tuple[object, ...]:
    placement = order.placement
    return (
        order.wallet,
        order.order_id,
        order.status,
        microseconds(order.status_stamp.at),
        order.status_stamp.seq,
        order.status_stamp.event_id,
        order.status_reason,
        decimal_text(placement.total) if placement else None,
        placement.currency if placement else None,
        _items_json(placement.items) if placement else None,
        placement.buyer if placement else None,
        microseconds(placement.placed_at) if placement else None,
        placement.stamp.seq if placement else None,
        placement.stamp.event_id if placement else None,
        microseconds(order.first_seen),
        microseconds(order.updated_at),
        order.last_seq,
    )


def _items_json(items: tuple[LineItem, ...]) -> str:
    return json.dumps(
        [[item.name, item.quantity, decimal_text(item.unit_price), item.sku] for item in items],
        ensure_ascii=False,
        separators=(",", ":"),
    )


class _OrderReader:
    """Turns order rows into :class:`Order` values, sharing equal parts between rows.

    The same catalogue items and item lists recur across thousands of orders;
    building each once keeps reading 10,000 orders (the dashboard opening) fast.
    """

    def __init__(self) -> None:
        self._items: dict[str, tuple[LineItem, ...]] = {}
        self._item: dict[tuple[Any, ...], LineItem] = {}

    def preload(self, rows: Sequence[Sequence[Any]]) -> None:
        """Parse the item lists of many rows at once (one JSON parse instead of thousands)."""
        texts = list({row[9] for row in rows if row[9] is not None} - self._items.keys())
        if texts:
            for text, entries in zip(texts, json.loads("[" + ",".join(texts) + "]"), strict=True):
                self._items[text] = tuple(self._line(tuple(entry)) for entry in entries)

    def items(self, text: str) -> tuple[LineItem, ...]:
        found = self._items.get(text)
        if found is None:
            found = tuple(self._line(tuple(entry)) for entry in json.loads(text))
            self._items[text] = found
        return found

    def _line(self, entry: tuple[Any, ...]) -> LineItem:
        found = self._item.get(entry)
        if found is None:
            name, quantity, price, sku = entry
            found = self._item[entry] = LineItem(name, quantity, Decimal(price), sku)
        return found

    def __call__(self, row: Sequence[Any]) -> Order:
        (
            wallet,
            order_id,
            status,
            status_at,
            status_seq,
            status_event,
            reason,
            total,
            currency,
            items,
            buyer,
            placed_at,
            placement_seq,
            placement_event,
            first_seen,
            updated,
            last_seq,
        ) = row
        status_stamp = Stamp(from_microseconds(status_at), status_seq, status_event)
        placement = None
        if placement_seq is not None:
            placed = from_microseconds(placed_at)
            stamp = Stamp(placed, placement_seq, placement_event)
            placement = Placement(
                total=Decimal(total),
                currency=currency,
                items=self.items(items),
                buyer=buyer,
                placed_at=placed,
                stamp=status_stamp if stamp == status_stamp else stamp,
            )
        return Order(
            wallet=wallet,
            order_id=order_id,
            status=status,
            status_stamp=status_stamp,
            status_reason=reason,
            placement=placement,
            first_seen=from_microseconds(first_seen),
            updated_at=from_microseconds(updated),
            last_seq=last_seq,
        )


def _order(row: Sequence[Any]) -> Order:
    return _OrderReader()(row)


def order(db: sqlite3.Connection, wallet: str, order_id: str) -> Order | None:
    row = _one(db, _ORDER_SELECT + " WHERE wallet = ? AND order_id = ?", (wallet, order_id))
    return _order(row) if row else None


def orders(db: sqlite3.Connection, wallet: str | None = None) -> list[Order]:
    """Every order, as fast as possible (the dashboard's opening reads them all)."""
    where, parameters = _wallet_clause(wallet)
    rows = db.execute(f"{_ORDER_SELECT} {where}", parameters).fetchall()
    read = _OrderReader()
    with collector_paused():
        read.preload(rows)
        return [read(row) for row in rows]


def orders_in_chunks(
    db: sqlite3.Connection, wallet: str | None = None, chunk: int = 500
) -> Iterator[Order]:
    """Every order, read ``chunk`` rows at a time: for a worker thread, whose long C
    calls (one big ``fetchall``, one big JSON parse) would hold the GIL and stall
    the event loop's thread for as long."""
    where, parameters = _wallet_clause(wallet)
    cursor = db.execute(f"{_ORDER_SELECT} {where}", parameters)
    read = _OrderReader()
    while rows := cursor.fetchmany(chunk):
        read.preload(rows)
        yield from (read(row) for row in rows)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk read or fold.

    Reading 10,000 orders allocates some 60,000 small objects, none in a cycle;
    the collector would scan the growing heap again and again for nothing (a third
    of the dashboard's reading time, and 30–50 ms stalls of the event loop when a
    worker thread refolds). Reference counting still frees everything meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def orders_by_id(db: sqlite3.Connection, wallet: str, order_ids: Collection[str]) -> list[Order]:
    return orders_with_ids(db, order_ids, wallet)


def orders_with_ids(
    db: sqlite3.Connection, order_ids: Collection[str], wallet: str | None = None
) -> list[Order]:
    """The known orders among ``order_ids`` (of ``wallet``, or of any wallet)."""
    found = []
    ids = sorted(order_ids)
    where, parameters = _wallet_clause(wallet)
    where = f"{where} AND" if where else "WHERE"
    read = _OrderReader()
    # SQLite allows 32766 parameters since 3.32; chunks keep older versions happy too.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = db.execute(
            f"{_ORDER_SELECT} {where} order_id IN ({marks})", (*parameters, *chunk)
        ).fetchall()
        found += [read(row) for row in rows]
    return found


# --- payments, reviews, tier, analytics -------------------------------------------------

_PAYMENT_SELECT: Final = (
    "SELECT wallet, tx_hash, amount, currency, order_id, payer, at_us, seq, event_id FROM payments"
)


def write_payments(db: sqlite3.Connection, payments: Iterable[Payment]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO payments "
        "(wallet, tx_hash, amount, currency, order_id, payer, at_us, seq, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                p.wallet,
                p.transaction_hash,
                decimal_text(p.amount),
                p.currency,
                p.order_id,
                p.payer,
                microseconds(p.stamp.at),
                p.stamp.seq,
                p.stamp.event_id,
            )
            for p in payments
        ),
    )


def _payment(row: Sequence[Any]) -> Payment:
    wallet, tx_hash, amount, currency, order_id, payer, at, seq, event_id = row
    stamp = Stamp(from_microseconds(at), seq, event_id)
    return Payment(wallet, tx_hash, Decimal(amount), currency, order_id, payer, stamp.at, stamp)


def payments(
    db: sqlite3.Connection, wallet: str | None = None, order_id: str | None = None
) -> list[Payment]:
    """Payments, oldest first (all, or for one order)."""
    where, parameters = _wallet_clause(wallet)
    if order_id is not None:
        where = f"{where} AND order_id = ?" if where else "WHERE order_id = ?"
        parameters = (*parameters, order_id)
    rows = db.execute(f"{_PAYMENT_SELECT} {where} ORDER BY at_us, seq", parameters)
    return [_payment(row) for row in rows]


_REVIEW_SELECT: Final = (
    "SELECT wallet, review_id, rating, order_id, comment, reviewer, at_us, seq, event_id "
    "FROM reviews"
)


def write_reviews(db: sqlite3.Connection, reviews: Iterable[Review]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO reviews "
        "(wallet, review_id, rating, order_id, comment, reviewer, at_us, seq, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                r.wallet,
                r.review_id,
                r.rating,
                r.order_id,
                r.comment,
                r.reviewer,
                microseconds(r.stamp.at),
                r.stamp.seq,
                r.stamp.event_id,
            )
            for r in reviews
        ),
    )


def _review(row: Sequence[Any]) -> Review:
    wallet, review_id, rating, order_id, comment, reviewer, at, seq, event_id = row
    stamp = Stamp(from_microseconds(at), seq, event_id)
    return Review(wallet, review_id, rating, order_id, comment, reviewer, stamp.at, stamp)


def reviews(
    db: sqlite3.Connection,
    wallet: str | None = None,
    order_id: str | None = None,
    limit: int = -1,
) -> list[Review]:
    """Reviews, newest first (all, or for one order)."""
    where, parameters = _wallet_clause(wallet)
    if order_id is not None:
        where = f"{where} AND order_id = ?" if where else "WHERE order_id = ?"
        parameters = (*parameters, order_id)
    rows = db.execute(
        f"{_REVIEW_SELECT} {where} ORDER BY at_us DESC, seq DESC LIMIT ?", (*parameters, limit)
    )
    return [_review(row) for row in rows]


def rating_summary(db: sqlite3.Connection, wallet: str | None = None) -> RatingSummary:
    where, parameters = _wallet_clause(wallet)
    count, total = db.execute(
        f"SELECT count(*), coalesce(sum(rating), 0) FROM reviews {where}", parameters
    ).fetchone()
    return RatingSummary(int(count), int(total))


_TIER_SELECT: Final = "SELECT wallet, name, previous, benefits, at_us, seq, event_id FROM tiers"


def write_tier(db: sqlite3.Connection, value: Tier) -> None:
    db.execute(
        "INSERT OR REPLACE INTO tiers (wallet, name, previous, benefits, at_us, seq, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            value.wallet,
            value.name,
            value.previous,
            json.dumps(list(value.benefits), ensure_ascii=False),
            microseconds(value.stamp.at),
            value.stamp.seq,
            value.stamp.event_id,
        ),
    )


def _tier(row: Sequence[Any]) -> Tier:
    wallet, name, previous, benefits, at, seq, event_id = row
    stamp = Stamp(from_microseconds(at), seq, event_id)
    return Tier(wallet, name, previous, tuple(json.loads(benefits)), stamp.at, stamp)


def tier(db: sqlite3.Connection, wallet: str) -> Tier | None:
    row = _one(db, _TIER_SELECT + " WHERE wallet = ?", (wallet,))
    return _tier(row) if row is not None else None


def tiers(db: sqlite3.Connection, wallet: str | None = None) -> list[Tier]:
    where, parameters = _wallet_clause(wallet)
    return [_tier(row) for row in db.execute(f"{_TIER_SELECT} {where}", parameters)]


_ANALYTICS_SELECT: Final = (
    "SELECT wallet, event_id, period, views, orders, revenue, conversion_rate, average_rating, "
    "at_us, seq FROM analytics"
)


def write_analytics(db: sqlite3.Connection, snapshots: Iterable[AnalyticsSnapshot]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO analytics (wallet, event_id, period, views, orders, revenue, "
        "conversion_rate, average_rating, at_us, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                s.wallet,
                s.stamp.event_id,
                s.period,
                s.views,
                s.orders,
                json.dumps({currency: decimal_text(amount) for currency, amount in s.revenue}),
                s.conversion_rate,
                s.average_rating,
                microseconds(s.stamp.at),
                s.stamp.seq,
            )
            for s in snapshots
        ),
    )


def _snapshot(row: Sequence[Any]) -> AnalyticsSnapshot:
    wallet, event_id, period, views, orders_, revenue, conversion, rating, at, seq = row
    stamp = Stamp(from_microseconds(at), seq, event_id)
    amounts = tuple(sorted((c, Decimal(a)) for c, a in json.loads(revenue).items()))
    return AnalyticsSnapshot(
        wallet, period, views, orders_, amounts, conversion, rating, stamp.at, stamp
    )


def analytics(
    db: sqlite3.Connection, wallet: str | None = None, period: str | None = None, limit: int = -1
) -> list[AnalyticsSnapshot]:
    """Analytics snapshots, newest first (all periods, or one)."""
    where, parameters = _wallet_clause(wallet)
    if period is not None:
        where = f"{where} AND period = ?" if where else "WHERE period = ?"
        parameters = (*parameters, period)
    rows = db.execute(
        f"{_ANALYTICS_SELECT} {where} ORDER BY at_us DESC, seq DESC, event_id DESC LIMIT ?",
        (*parameters, limit),
    )
    return [_snapshot(row) for row in rows]


def _one(db: sqlite3.Connection, sql: str, parameters: tuple[object, ...]) -> Any:
    return db.execute(sql, parameters).fetchone()


def frames_from_rows(rows: Iterable[tuple[str, int, str]]) -> Iterable[EventFrame]:
    """Frames of ``(frame_json, seq, wallet)`` rows; one that no longer parses is
    skipped and logged (a rebuild must not stop at one bad row)."""
    for text, seq, wallet in rows:
        try:
            yield load_frame(text)
        except ValueError as exc:
            logger.warning(
                "skipping stored event %s of %s that does not parse: %s", seq, wallet, exc
            )
