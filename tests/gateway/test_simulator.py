"""The simulator: deterministic per seed, valid events, consistent order stories."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from app.gateway.simulator import CURRENCIES, LEGAL_TRANSITIONS, TIERS, Simulator
from app.protocol import (
    NewOrder,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    SellerEvent,
    TierUpgraded,
    event_to_wire,
    is_known,
    parse_event,
)


def _stream(seed: int, count: int, wallets: list[str]) -> list[tuple[str, SellerEvent]]:
    simulator = Simulator(wallets, seed=seed)
    return [simulator.next_event() for _ in range(count)]


def test_a_seed_always_gives_the_same_stream(wallet_a: str, wallet_b: str) -> None:
    first = _stream(7, 300, [wallet_a, wallet_b])
    assert first == _stream(7, 300, [wallet_a, wallet_b])
    assert first != _stream(8, 300, [wallet_a, wallet_b])


def test_every_event_is_valid_on_the_wire(wallet_a: str, wallet_b: str) -> None:
    for wallet, event in _stream(1, 2000, [wallet_a, wallet_b.lower()]):
        assert wallet in (wallet_a, wallet_b)
        assert is_known(event)
        assert parse_event(event_to_wire(event)) == event


def test_the_first_events_show_an_order_and_a_payment(wallet_a: str) -> None:
    for seed in range(20):
        events = [event for _, event in _stream(seed, 5, [wallet_a])]
        assert isinstance(events[0], NewOrder)
        assert any(isinstance(e, PaymentReceived) for e in events)


def test_orders_tell_consistent_stories(wallet_a: str, wallet_b: str) -> None:
    orders: dict[str, NewOrder] = {}
    status: dict[str, str] = {}
    paid: set[str] = set()
    owner: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    for wallet, event in _stream(3, 5000, [wallet_a, wallet_b]):
        kinds[event.type] += 1
        if isinstance(event, NewOrder):
            assert event.order_id not in orders
            assert 1 <= len(event.items) <= 4
            assert event.total == sum(i.unit_price * i.quantity for i in event.items)
            step = CURRENCIES[event.currency][1]
            assert all(i.unit_price == i.unit_price.quantize(step) for i in event.items)
            orders[event.order_id], status[event.order_id] = event, "pending"
            owner[event.order_id] = wallet
        elif isinstance(event, PaymentReceived):
            assert event.order_id is not None and status[event.order_id] == "pending"
            placed = orders[event.order_id]
            assert (event.amount, event.currency) == (placed.total, placed.currency)
            assert event.payer is not None
            paid.add(event.order_id)
        elif isinstance(event, OrderStatusChanged):
            before = status[event.order_id]
            assert owner[event.order_id] == wallet
            assert event.previous_status == before
            assert event.new_status in LEGAL_TRANSITIONS[before], (before, event.new_status)
            if event.new_status == "paid":
                assert event.order_id in paid
            status[event.order_id] = event.new_status
    finals = Counter(status.values())
    assert finals["delivered"] and finals["cancelled"] and finals["refunded"]
    assert set(kinds) >= {
        "new_order",
        "payment_received",
        "order_status_changed",
        "review_received",
        "tier_upgraded",
        "analytics_update",
        "cache_invalidate",
    }


def test_tiers_climb_one_step_at_a_time(wallet_a: str) -> None:
    names = [name for name, _ in TIERS]
    upgrades = [e for _, e in _stream(5, 5000, [wallet_a]) if isinstance(e, TierUpgraded)]
    assert upgrades
    for step, upgrade in enumerate(upgrades, start=1):
        assert (upgrade.previous_tier, upgrade.new_tier) == (names[step - 1], names[step])
        assert upgrade.benefits


def test_reviews_rate_one_to_five_stars_with_a_comment(wallet_a: str) -> None:
    reviews = [e for _, e in _stream(9, 3000, [wallet_a]) if isinstance(e, ReviewReceived)]
    assert {r.rating for r in reviews} == {1, 2, 3, 4, 5}
    assert all(r.comment for r in reviews)


def test_amounts_use_each_currencys_precision(wallet_a: str) -> None:
    totals = [e for _, e in _stream(2, 2000, [wallet_a]) if isinstance(e, NewOrder)]
    eth = [o.total for o in totals if o.currency == "ETH"]
    usd = [o.total for o in totals if o.currency == "USD"]
    assert eth and usd
    assert all(t.as_tuple().exponent == -4 for t in eth)
    assert all(t.as_tuple().exponent == -2 and t > Decimal(1) for t in usd)


@pytest.mark.asyncio
async def test_run_publishes_the_stream_until_cancelled(wallet_a: str) -> None:
    expected = _stream(11, 5, [wallet_a])
    received: list[tuple[str, SellerEvent]] = []
    five = asyncio.get_running_loop().create_future()

    async def publish(wallet: str, event: SellerEvent) -> None:
        received.append((wallet, event))
        if len(received) == 5:
            five.set_result(None)

    running = asyncio.create_task(Simulator([wallet_a], seed=11, rate=1000).run(publish))
    await asyncio.wait_for(five, 10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert received[:5] == expected


def test_bad_arguments_are_refused(wallet_a: str) -> None:
    with pytest.raises(ValueError):
        Simulator([])
    with pytest.raises(ValueError):
        Simulator([wallet_a], rate=0)
    with pytest.raises(ValueError):
        Simulator(["0x12"])
