"""Named cache keys, selective invalidation and a callback registry. Pure.

The gateway's ``cache_invalidate`` event names what went stale (``orders``,
``order:ORD-123``, ``analytics:today``, ``tier`` …). :meth:`CacheRegistry.invalidate`
marks exactly those keys stale, asks its ``refresh`` hook to rebuild them, and then
calls the callbacks registered for those keys — and only those. A refresh that
takes a while (``app.store.caches.StoreCaches`` re-folds from the local store in a
worker thread) uses :meth:`~CacheRegistry.mark_stale`, then
:meth:`~CacheRegistry.mark_fresh` and :meth:`~CacheRegistry.notify` when done.

This is the seed's ``registerCacheCallback`` / ``unregisterCacheCallback``::

    unregister = caches.register("orders", lambda key: reload_orders())
    ...
    unregister()  # or caches.unregister("orders", callback)

A key ending in ``*`` registers for every key with that prefix (``"order:*"`` hears
``order:ORD-1``; ``"*"`` hears everything).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

logger = logging.getLogger("seller_notifier.cache")

CacheCallback = Callable[[str], object]
"""Called with the key that was invalidated."""
Unregister = Callable[[], None]
Refresh = Callable[[frozenset[str]], Collection[str]]
"""Rebuilds the named keys; returns the keys it could rebuild."""

WILDCARD: Final = "*"


class CacheKey(StrEnum):
    """Keys the app keeps data for; others (``catalogue`` …) are passed on untouched."""

    PROFILE = "profile"
    """The seller's profile: tier and benefits."""
    ORDERS = "orders"
    PAYMENTS = "payments"
    REVIEWS = "reviews"
    TIER = "tier"
    ANALYTICS = "analytics"
    NOTIFICATIONS = "notifications"


ORDER_PREFIX: Final = "order:"
"""``order:<id>``: one order."""


def family(key: str) -> str:
    """The collection a key belongs to: ``order:ORD-1`` → ``orders``,
    ``analytics:today`` → ``analytics``; a plain key is its own family."""
    if key.startswith(ORDER_PREFIX):
        return CacheKey.ORDERS
    head, _, _ = key.partition(":")
    return head


class CacheRegistry:
    """Which keys are stale, and who to tell when a key is invalidated.

    ``refresh``: called by :meth:`invalidate` with the keys before any callback
    runs, so callbacks read rebuilt data; a refresh that raises is logged and the
    keys stay stale. Use from one thread (the event loop's).
    """

    def __init__(self, refresh: Refresh | None = None) -> None:
        self._refresh = refresh
        self._callbacks: dict[str, list[CacheCallback]] = {}
        self._stale: dict[str, datetime] = {}

    # --- the seed's API ------------------------------------------------------------

    def register(self, key: str, callback: CacheCallback) -> Unregister:
        """Call ``callback(key)`` whenever ``key`` is invalidated (``prefix*`` for a family).

        Returns a function that unregisters this registration (idempotent). The same
        callback may be registered twice; each registration is called.
        """
        entries = self._callbacks.setdefault(key, [])
        entries.append(callback)
        registered = True

        def unregister() -> None:
            nonlocal registered
            if registered:
                registered = False
                self._remove(key, callback)

        return unregister

    register_cache_callback = register
    """The seed's name for :meth:`register`."""

    def unregister(self, key: str, callback: CacheCallback) -> bool:
        """Remove one registration of ``callback`` for ``key``; False if there was none."""
        return self._remove(key, callback)

    unregister_cache_callback = unregister
    """The seed's name for :meth:`unregister`."""

    def invalidate(self, keys: Iterable[str], *, now: datetime | None = None) -> list[str]:
        """Invalidate exactly ``keys``: mark them stale, refresh them, call their callbacks.

        Returns the keys (deduplicated, in the given order) whose callbacks ran at
        least once. A callback that raises is logged; the others still run.
        """
        named = self.mark_stale(keys, now=now)
        if named and self._refresh is not None:
            try:
                refreshed = self._refresh(frozenset(named))
            except Exception:
                logger.exception("could not refresh %s", ", ".join(named))
            else:
                self.mark_fresh(refreshed)
        return self.notify(named)

    def mark_stale(self, keys: Iterable[str], *, now: datetime | None = None) -> list[str]:
        """Note that ``keys`` are stale (from ``now``, unless already); returns them,
        deduplicated, in order. Callbacks are not called: see :meth:`notify`."""
        named = list(dict.fromkeys(key for key in keys if key))
        when = now if now is not None else datetime.now(UTC)
        for key in named:
            self._stale.setdefault(key, when)
        return named

    def notify(self, keys: Iterable[str]) -> list[str]:
        """Call the callbacks of exactly ``keys``; returns the keys that had some.

        For a refresh that finished elsewhere (in the background): mark the keys
        fresh first, then notify.
        """
        fired = []
        for key in dict.fromkeys(keys):
            callbacks = self.callbacks_for(key)
            if callbacks:
                fired.append(key)
            for callback in callbacks:
                try:
                    callback(key)
                except Exception:
                    logger.exception("a cache callback for %s failed (%r)", key, callback)
        return fired

    # --- state -----------------------------------------------------------------------

    def callbacks_for(self, key: str) -> list[CacheCallback]:
        """The callbacks an invalidation of ``key`` calls: exact ones first, then patterns."""
        found = list(self._callbacks.get(key, ()))
        for pattern, callbacks in self._callbacks.items():
            if pattern != key and pattern.endswith(WILDCARD) and key.startswith(pattern[:-1]):
                found.extend(callbacks)
        return found

    def is_stale(self, key: str) -> bool:
        """True from an invalidation of ``key`` until it is refreshed."""
        return key in self._stale

    def stale_since(self, key: str) -> datetime | None:
        return self._stale.get(key)

    @property
    def stale_keys(self) -> frozenset[str]:
        return frozenset(self._stale)

    def mark_fresh(self, keys: Iterable[str]) -> None:
        """``keys`` hold current data again."""
        for key in keys:
            self._stale.pop(key, None)

    def _remove(self, key: str, callback: CacheCallback) -> bool:
        entries = self._callbacks.get(key)
        if not entries:
            return False
        for index, registered in enumerate(entries):
            if registered is callback:
                del entries[index]
                if not entries:
                    del self._callbacks[key]
                return True
        return False
