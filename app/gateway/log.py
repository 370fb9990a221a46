"""The per-wallet event log every gateway writes to and replays from.

Each wallet has its own sequence: ``seq`` starts at 1 and grows by one per
appended event, without gaps. Old events may be dropped (retention), so a
wallet's log holds ``retained_from``..``head``; a reader asking for older
events is told about the gap instead of silently missing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.protocol.events import SellerEvent
from app.protocol.frames import EventFrame


@dataclass(frozen=True)
class Appended:
    """Where an appended event landed. ``duplicate``: its idempotency key had been used
    before, so nothing new was stored and these are the original event's seq/id/ts."""

    wallet: str
    seq: int
    id: str
    ts: datetime
    duplicate: bool = False


class EventLogError(RuntimeError):
    """The log could not store or read events (disk full, database locked, …)."""


class EventLogClosed(EventLogError):
    """The log was closed; nothing more can be appended or read."""


class EventLog(Protocol):
    """A durable, per-wallet, sequenced log of seller events.

    ``wallet`` arguments are checksummed addresses (callers normalise them).
    """

    async def append(self, wallet: str, event: SellerEvent, key: str | None = None) -> Appended:
        """Store ``event`` as the wallet's next seq; returns only once it is durable.

        ``key`` is an idempotency key and becomes the event's id: appending the
        same key again for the same wallet stores nothing and returns the
        original with ``duplicate=True``. Without a key a fresh id is made.
        Appends made in one order get increasing seqs in that order. Raises
        :class:`EventLogError` when the event could not be stored.
        """
        ...

    async def read(self, wallet: str, after_seq: int, limit: int) -> list[EventFrame]:
        """Up to ``limit`` retained events with ``seq > after_seq``, in seq order."""
        ...

    async def bounds(self, wallet: str) -> tuple[int, int]:
        """``(retained_from, head)``: the oldest retained and newest seq; ``(0, 0)`` if empty."""
        ...

    async def close(self) -> None:
        """Finish pending appends and release the storage. Idempotent."""
        ...
