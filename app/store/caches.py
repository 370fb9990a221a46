"""Cache invalidation, client side: a ``cache_invalidate`` event re-folds the named
tables from the local store (in the background) and then tells the cache callbacks.

There is no way yet to ask the gateway for fresh data (protocol v1 has no resync
frame), so "refresh" means: rebuild what the store derives from the events it
holds. Keys the store keeps nothing for (``catalogue`` …) stay stale and their
callbacks are still called, so a part of the app that has its own source can act.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from app.domain.cache import CacheRegistry
from app.protocol import CacheInvalidate, EventFrame
from app.store.errors import StoreError
from app.store.events import ClientStore

logger = logging.getLogger("seller_notifier.cache")


class StoreCaches:
    """Feeds invalidations to ``store`` and ``registry``; use on the event loop's thread.

    :meth:`on_event` takes every delivered event (only ``cache_invalidate`` ones
    matter). Invalidations that arrive while a refold runs are gathered into one
    next refold. Call :meth:`close` before the store is closed.
    """

    def __init__(self, store: ClientStore, registry: CacheRegistry) -> None:
        self._store = store
        self._registry = registry
        self._pending: dict[str, None] = {}
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.refolds = 0
        """How many refolds ran (tests wait for it)."""

    @property
    def registry(self) -> CacheRegistry:
        return self._registry

    def on_event(self, frame: EventFrame) -> None:
        if isinstance(frame.event, CacheInvalidate):
            self.invalidate(frame.event.keys)

    def invalidate(self, keys: Iterable[str]) -> None:
        """Mark ``keys`` stale now; re-fold them and call their callbacks soon."""
        if self._closed:
            return
        for key in self._registry.mark_stale(keys):
            self._pending[key] = None
        if self._pending and (self._worker is None or self._worker.done()):
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="cache-refold"
            )

    async def idle(self) -> None:
        """Wait until every invalidation so far is refolded and notified."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def close(self) -> None:
        """Stop: a refold under way is abandoned (its worker thread finishes on its own)."""
        self._closed = True
        self._pending.clear()
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _work(self) -> None:
        while self._pending and not self._closed:
            keys = list(self._pending)
            self._pending.clear()
            try:
                refreshed = await self._store.refold_in_background(keys)
            except StoreError as exc:
                logger.error("could not re-fold %s: %s", ", ".join(keys), exc)
                refreshed = frozenset()
            self.refolds += 1
            if self._closed:
                return
            self._registry.mark_fresh(refreshed)
            self._registry.notify(keys)
