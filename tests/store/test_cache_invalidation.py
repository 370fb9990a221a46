"""Named cache keys: register, invalidate selectively, unregister; refold from the store."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.cache import CacheKey, CacheRegistry, family
from app.protocol import EventFrame
from app.store import ClientStore

BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_only_the_named_keys_callbacks_fire() -> None:
    caches = CacheRegistry()
    heard: list[tuple[str, str]] = []
    caches.register("orders", lambda key: heard.append(("orders", key)))
    caches.register("tier", lambda key: heard.append(("tier", key)))
    caches.register("analytics", lambda key: heard.append(("analytics", key)))

    fired = caches.invalidate(["orders", "tier", "orders", "catalogue"])

    assert fired == ["orders", "tier"]
    assert heard == [("orders", "orders"), ("tier", "tier")]
    assert caches.stale_keys == {"orders", "tier", "catalogue"}  # nothing refreshed them


def test_unregister_by_the_returned_function_or_by_name() -> None:
    caches = CacheRegistry()
    heard: list[str] = []

    def on_orders(key: str) -> None:
        heard.append(key)

    unregister = caches.register("orders", on_orders)
    caches.register_cache_callback("orders", on_orders)  # the seed's name, registered twice
    caches.invalidate(["orders"])
    assert heard == ["orders", "orders"]

    unregister()
    unregister()  # harmless
    caches.invalidate(["orders"])
    assert heard == ["orders"] * 3

    assert caches.unregister_cache_callback("orders", on_orders) is True
    assert caches.unregister("orders", on_orders) is False
    assert caches.invalidate(["orders"]) == []
    assert heard == ["orders"] * 3


def test_a_prefix_pattern_hears_its_family() -> None:
    caches = CacheRegistry()
    heard: list[str] = []
    caches.register("order:*", heard.append)
    caches.register("*", lambda key: heard.append(f"any {key}"))

    caches.invalidate(["order:ORD-1", "tier"])

    assert heard == ["order:ORD-1", "any order:ORD-1", "any tier"]
    assert family("order:ORD-1") == CacheKey.ORDERS
    assert family("analytics:today") == CacheKey.ANALYTICS
    assert family("tier") == "tier"


def test_a_failing_callback_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    caches = CacheRegistry()
    heard: list[str] = []

    def broken(key: str) -> None:
        raise RuntimeError("boom")

    caches.register("orders", broken)
    caches.register("orders", heard.append)
    with caplog.at_level(logging.ERROR, "seller_notifier.cache"):
        assert caches.invalidate(["orders"]) == ["orders"]

    assert heard == ["orders"]
    assert "a cache callback for orders failed" in caplog.text


def test_callbacks_run_after_the_refresh_and_see_fresh_data(tmp_path: Path, wallet_a: str) -> None:
    with ClientStore(tmp_path / "client.sqlite3") as store:
        store.record(
            EventFrame.model_validate(
                {"wallet": wallet_a, "seq": 1, "id": "e1", "ts": BASE.isoformat(),
                 "event": {"type": "new_order", "orderId": "A1", "total": "5", "currency": "EUR"}}
            )
        )  # fmt: skip
        store._connection().execute("DELETE FROM orders")  # a cache gone bad
        seen: list[list[str]] = []
        caches = CacheRegistry(refresh=store.refold)
        caches.register("orders", lambda key: seen.append([o.order_id for o in store.orders()]))

        caches.invalidate(["orders", "catalogue"], now=BASE)

        assert seen == [["A1"]]
        assert not caches.is_stale("orders")
        # A key the store keeps nothing for stays stale: only the gateway could refresh it.
        assert caches.stale_since("catalogue") == BASE


def test_a_failing_refresh_leaves_the_keys_stale_but_still_tells(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refresh(keys: frozenset[str]) -> frozenset[str]:
        raise OSError("disk gone")

    caches = CacheRegistry(refresh=refresh)
    heard: list[str] = []
    caches.register("orders", heard.append)
    with caplog.at_level(logging.ERROR, "seller_notifier.cache"):
        caches.invalidate(["orders"], now=BASE + timedelta(hours=1))

    assert heard == ["orders"]
    assert caches.is_stale("orders")
    assert "could not refresh orders" in caplog.text


# --- re-folding in the background ------------------------------------------------------


def order_frame(wallet: str, seq: int, order_id: str, event: str = "new_order") -> EventFrame:
    body: dict[str, object] = (
        {"type": "new_order", "orderId": order_id, "total": "5", "currency": "EUR"}
        if event == "new_order"
        else {"type": "order_status_changed", "orderId": order_id, "newStatus": event}
    )
    return EventFrame.model_validate(
        {"wallet": wallet, "seq": seq, "id": f"e{seq}",
         "ts": (BASE + timedelta(minutes=seq)).isoformat(), "event": body}
    )  # fmt: skip


def test_events_stored_while_a_refold_plans_are_not_lost(tmp_path: Path, wallet_a: str) -> None:
    from app.store import refold

    path = tmp_path / "client.sqlite3"
    with ClientStore(path) as store:
        store.record(order_frame(wallet_a, 1, "A1"))
        store.record(order_frame(wallet_a, 2, "A2"))
        store._connection().execute("UPDATE orders SET status = 'garbled' WHERE order_id = 'A2'")

        planned = refold.plan_file(path, ["orders"])  # what a worker thread does
        # Meanwhile the loop stores more events (folded into the tables as usual).
        store.record(order_frame(wallet_a, 3, "A1", "paid"))
        store.record(order_frame(wallet_a, 4, "A3"))

        with store._transaction() as db:
            assert refold.apply(db, planned) == {"orders"}

        statuses = {o.order_id: o.status for o in store.orders(wallet_a)}
        assert statuses == {"A1": "paid", "A2": "pending", "A3": "pending"}


@pytest.mark.asyncio
async def test_store_caches_refold_in_the_background_then_notify(
    tmp_path: Path, wallet_a: str
) -> None:
    from app.store.caches import StoreCaches

    with ClientStore(tmp_path / "client.sqlite3") as store:
        store.record(order_frame(wallet_a, 1, "A1"))
        store._connection().execute("DELETE FROM orders")
        registry = CacheRegistry()
        seen: list[tuple[str, list[str]]] = []
        registry.register(
            "order:*", lambda key: seen.append((key, [o.order_id for o in store.orders()]))
        )
        registry.register("catalogue", lambda key: seen.append((key, [])))
        caches = StoreCaches(store, registry)

        invalidation = EventFrame.model_validate(
            {"wallet": wallet_a, "seq": 2, "id": "e2", "ts": BASE.isoformat(),
             "event": {"type": "cache_invalidate", "keys": ["order:A1", "catalogue"]}}
        )  # fmt: skip
        caches.on_event(invalidation)
        caches.on_event(order_frame(wallet_a, 3, "A2"))  # not an invalidation: ignored
        assert registry.is_stale("order:A1")  # stale at once, refreshed in the background
        await asyncio.wait_for(caches.idle(), 10)

        assert seen == [("order:A1", ["A1"]), ("catalogue", [])]
        assert not registry.is_stale("order:A1")
        assert registry.is_stale("catalogue")  # only the gateway could refresh it
        await caches.close()
        caches.invalidate(["orders"])  # after close: ignored
        assert caches.refolds == 1
