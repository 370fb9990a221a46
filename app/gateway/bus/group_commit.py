"""Group commit: the append queue both event logs share.

Appends that arrive while a batch is being written wait and go together into the
next one, so a pipelining publisher pays one commit (or one Redis round trip)
per batch, and each append still returns only after its own batch is stored.
Appends are queued synchronously, before any await, so they keep call order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.gateway.log import Appended, EventLogError
from app.protocol import SellerEvent, event_to_wire

_log = logging.getLogger("seller_notifier.gateway.log")


@dataclass
class AppendRequest:
    wallet: str
    event_json: str
    key: str | None
    future: asyncio.Future[Appended] = field(repr=False)


WriteBatch = Callable[[list[AppendRequest]], Awaitable[list[Appended | BaseException]]]
"""Stores a batch; one result per request, in order (an exception for a failed one).
Raising fails the whole batch."""


class GroupCommitQueue:
    def __init__(self, write_batch: WriteBatch, *, where: str, task_name: str) -> None:
        self._write_batch = write_batch
        self._where = where  # "in /path/events.sqlite3", "in Redis": for messages
        self._task_name = task_name
        self._pending: list[AppendRequest] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, wallet: str, event: SellerEvent, key: str | None) -> Appended:
        request = AppendRequest(
            wallet=wallet,
            event_json=json.dumps(event_to_wire(event), separators=(",", ":")),
            key=key,
            future=asyncio.get_running_loop().create_future(),
        )
        self._pending.append(request)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pending(), name=self._task_name)
        return await request.future

    async def drain(self) -> None:
        """Finish the appends already accepted (they are stored, not lost)."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._write_batch(batch)
                except asyncio.CancelledError:
                    for request in batch:
                        request.future.cancel()
                    raise
                except Exception as exc:
                    _log.error("could not store %d event(s) %s: %s", len(batch), self._where, exc)
                    results = [exc] * len(batch)
                for request, result in zip(batch, results, strict=True):
                    if request.future.done():
                        continue  # the caller gave up; its event may still be stored
                    if isinstance(result, BaseException):
                        request.future.set_exception(
                            EventLogError(f"could not store the event {self._where}: {result}")
                        )
                    else:
                        request.future.set_result(result)
        finally:
            self._writer = None
