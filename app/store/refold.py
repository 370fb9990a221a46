"""Re-folding cached tables from the stored events, without stalling the event loop.

A refold is split in two:

1. :func:`plan` reads, inside one read transaction (a consistent snapshot), every
   stored event up to the newest one (``upto``) that feeds the named tables, folds
   them in memory and compares the result with the rows the tables hold. This is
   the slow part (it parses every event), and it can run in a worker thread on a
   connection of its own (:func:`plan_file`): in WAL mode it blocks no writer.
2. :func:`apply` then runs on the store's own connection, inside a write
   transaction: it folds in the events stored *after* the snapshot (they were
   folded into the tables meanwhile, but not into the plan), and writes only the
   rows that differ. Folding is order-independent and idempotent
   (``app.domain.folding``), so the result is exactly "every event folded", and the
   write is small — usually nothing at all.

Keys: ``orders``, ``order:<id>``, ``payments``, ``reviews``, ``tier``, ``profile``,
``analytics`` (and ``analytics:<period>``); others name nothing kept here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.cache import ORDER_PREFIX, family
from app.domain.folding import Kind, SellerState, subject_of
from app.protocol import EventFrame
from app.store import folded


def _held(db: sqlite3.Connection, kind: Kind, wallet: str | None) -> Mapping[tuple[str, str], Any]:
    """The rows a table holds now, keyed like :func:`_values`."""
    match kind:
        case Kind.ORDER:
            return {(o.wallet, o.order_id): o for o in folded.orders_in_chunks(db, wallet)}
        case Kind.PAYMENT:
            return {(p.wallet, p.transaction_hash): p for p in folded.payments(db, wallet)}
        case Kind.REVIEW:
            return {(r.wallet, r.review_id): r for r in folded.reviews(db, wallet)}
        case Kind.TIER:
            return {(t.wallet, ""): t for t in folded.tiers(db, wallet)}
        case Kind.ANALYTICS:
            return {(a.wallet, a.stamp.event_id): a for a in folded.analytics(db, wallet)}


@dataclass
class Scope:
    """What a refold covers: whole collections, and single orders besides."""

    wallet: str | None
    keys: frozenset[str] = frozenset()
    """The cache keys that name something kept here."""
    kinds: frozenset[Kind] = frozenset()
    order_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, keys: Collection[str], wallet: str | None) -> Scope:
        named: set[str] = set()
        kinds: set[Kind] = set()
        order_ids: set[str] = set()
        for key in keys:
            if key.startswith(ORDER_PREFIX) and len(key) > len(ORDER_PREFIX):
                order_ids.add(key[len(ORDER_PREFIX) :])
                named.add(key)
            elif (found := folded.KINDS_OF_FAMILY.get(family(key))) is not None:
                kinds.update(found)
                named.add(key)
        if Kind.ORDER in kinds:
            order_ids.clear()
        return cls(wallet, frozenset(named), frozenset(kinds), frozenset(order_ids))

    def covers(self, frame: EventFrame) -> bool:
        subject = subject_of(frame)
        if subject is None or (self.wallet is not None and subject.wallet != self.wallet):
            return False
        return subject.kind in self.kinds or (
            subject.kind is Kind.ORDER and subject.key in self.order_ids
        )

    @property
    def types(self) -> tuple[str, ...]:
        kinds = set(self.kinds) | ({Kind.ORDER} if self.order_ids else set())
        return tuple(sorted(t for kind in kinds for t in folded.EVENT_TYPES[kind]))


@dataclass
class Plan:
    """The outcome of :func:`plan`: apply it with :func:`apply`."""

    scope: Scope
    upto: int
    """The newest ``events.rowid`` the snapshot held."""
    state: SellerState
    differing: dict[Kind, set[tuple[str, str]]] = field(default_factory=dict)
    """Rows (``(wallet, key)``) the tables hold wrongly, lack, or should not hold."""


def plan(db: sqlite3.Connection, keys: Collection[str], wallet: str | None = None) -> Plan:
    """Fold the events behind ``keys`` and find the rows that differ (read only).

    Call it inside a transaction (or let :func:`plan_file` open one), so events
    and tables are read as of the same moment.
    """
    scope = Scope.of(keys, wallet)
    upto = int(db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0])
    state = SellerState()
    if not scope.types:
        return Plan(scope, upto, state)
    for frame in _frames(db, scope, after=0, upto=upto):
        if scope.covers(frame):
            state.apply(frame)
    result = Plan(scope, upto, state)
    for kind in scope.kinds:
        result.differing[kind] = _differences(_values(state, kind), _held(db, kind, wallet))
    if scope.order_ids:
        held = {
            (o.wallet, o.order_id): o for o in folded.orders_with_ids(db, scope.order_ids, wallet)
        }
        result.differing[Kind.ORDER] = _differences(state.orders, held)
    return result


def plan_file(path: str | Path, keys: Collection[str], wallet: str | None = None) -> Plan:
    """:func:`plan` on a read-only connection of its own (safe in a worker thread)."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("BEGIN")  # one snapshot for the events and the tables
        try:
            with folded.collector_paused():
                return plan(db, keys, wallet)
        finally:
            db.execute("COMMIT")
    finally:
        db.close()


def apply(db: sqlite3.Connection, planned: Plan) -> frozenset[str]:
    """Bring the tables in line with ``planned`` plus the events stored since; call it
    inside a write transaction. Returns the keys that are now rebuilt."""
    scope, state = planned.scope, planned.state
    touched: dict[Kind, set[tuple[str, str]]] = {}
    if scope.types:
        for frame in _frames(db, scope, after=planned.upto, upto=None):
            if scope.covers(frame) and (subject := state.apply(frame)) is not None:
                touched.setdefault(subject.kind, set()).add((subject.wallet, subject.key))
    for kind in set(planned.differing) | set(touched):
        values = _values(state, kind)
        for row_key in planned.differing.get(kind, set()) | touched.get(kind, set()):
            value = values.get(row_key)
            if value is None:
                folded.delete(db, kind, row_key[0], row_key[1])
            else:
                _write(db, kind, value)
    return scope.keys


def _frames(
    db: sqlite3.Connection, scope: Scope, *, after: int, upto: int | None
) -> Iterable[EventFrame]:
    marks = ", ".join("?" * len(scope.types))
    sql = f"SELECT frame, seq, wallet FROM events WHERE rowid > ? AND type IN ({marks})"
    parameters: tuple[object, ...] = (after, *scope.types)
    if upto is not None:
        sql += " AND rowid <= ?"
        parameters += (upto,)
    if scope.wallet is not None:
        sql += " AND wallet = ?"
        parameters += (scope.wallet,)
    if scope.order_ids and not scope.kinds:
        sql += f" AND subject IN ({', '.join('?' * len(scope.order_ids))})"
        parameters += tuple(sorted(scope.order_ids))
    # A few rows at a time, never all at once: in a worker thread one long C call
    # (fetchall) would hold the GIL, and tens of thousands of rows held at once
    # make every garbage collection pass longer; either stalls the event loop.
    return folded.frames_from_rows(_rows(db.execute(sql, parameters)))


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple[str, int, str]]:
    while rows := cursor.fetchmany(200):
        yield from rows


def _values(state: SellerState, kind: Kind) -> Mapping[tuple[str, str], Any]:
    match kind:
        case Kind.ORDER:
            return state.orders
        case Kind.PAYMENT:
            return state.payments
        case Kind.REVIEW:
            return state.reviews
        case Kind.TIER:
            return {(wallet, ""): value for wallet, value in state.tiers.items()}
        case Kind.ANALYTICS:
            return state.analytics


def _differences(
    wanted: Mapping[tuple[str, str], Any], held: Mapping[tuple[str, str], Any]
) -> set[tuple[str, str]]:
    return {key for key in wanted.keys() | held.keys() if wanted.get(key) != held.get(key)}


def _write(db: sqlite3.Connection, kind: Kind, value: Any) -> None:
    match kind:
        case Kind.ORDER:
            folded.write_orders(db, [value])
        case Kind.PAYMENT:
            folded.write_payments(db, [value])
        case Kind.REVIEW:
            folded.write_reviews(db, [value])
        case Kind.TIER:
            folded.write_tier(db, value)
        case Kind.ANALYTICS:
            folded.write_analytics(db, [value])
