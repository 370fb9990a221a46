"""A believable stream of seller events, for the demo and for load tests.

Each simulated shop keeps state, so the stream tells consistent stories: an
order is placed (1–4 catalogue items, total = the items' sum), paid (a payment
of exactly its total, then ``pending → paid``), processed, shipped and
delivered, or cancelled/refunded along the way; delivered orders get reviews;
the shop climbs tiers; analytics snapshots add up what happened. The choices
come from ``random.Random(seed)``, so one seed always gives the same stream
(events carry no wall-clock timestamps; the gateway stamps each frame).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from app.protocol.events import (
    AnalyticsUpdate,
    CacheInvalidate,
    NewOrder,
    OrderItem,
    OrderStatusChanged,
    PaymentReceived,
    ReviewReceived,
    SellerEvent,
    TierUpgraded,
)
from app.protocol.wallet import normalize_wallet

Publish = Callable[[str, SellerEvent], Awaitable[object]]

CATALOGUE: Final[tuple[tuple[str, str, Decimal], ...]] = (
    ("Ceramic Mug", "MUG-CER-01", Decimal("14.00")),
    ("Linen Tote", "TOTE-LIN-02", Decimal("22.50")),
    ("Beeswax Candle", "CNDL-BEE-03", Decimal("12.75")),
    ("Walnut Coaster Set", "COAST-WAL-04", Decimal("28.00")),
    ("Merino Wool Beanie", "HAT-MER-05", Decimal("34.90")),
    ("Enamel Pin", "PIN-ENA-06", Decimal("8.50")),
    ("Leather Notebook", "NOTE-LTH-07", Decimal("41.00")),
    ("Olive Oil Soap", "SOAP-OLV-08", Decimal("6.95")),
    ("Art Print: Harbour at Dusk", "PRNT-HAR-09", Decimal("55.00")),
    ("Bamboo Cutting Board", "BRD-BAM-10", Decimal("26.40")),
    ("Silk Scarf", "SCRF-SLK-11", Decimal("64.00")),
    ("Sticker Pack", "STKR-PCK-12", Decimal("4.99")),
)
"""Name, SKU and price in USD of what the simulated shops sell."""

CURRENCIES: Final[dict[str, tuple[Decimal, Decimal]]] = {
    # code: (units per USD, smallest amount shown)
    "USD": (Decimal("1"), Decimal("0.01")),
    "EUR": (Decimal("0.92"), Decimal("0.01")),
    "GBP": (Decimal("0.79"), Decimal("0.01")),
    "USDC": (Decimal("1"), Decimal("0.01")),
    "ETH": (Decimal("1") / Decimal("3200"), Decimal("0.0001")),
}
_CURRENCY_WEIGHTS: Final = (40, 20, 10, 20, 10)

TIERS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("Bronze", ()),
    ("Silver", ("Lower fees: 4.5%", "Priority listing in search")),
    ("Gold", ("Lower fees: 3.5%", "Next-day payouts", "Featured shop badge")),
    (
        "Platinum",
        ("Lower fees: 2.5%", "Instant payouts", "Dedicated account manager", "Homepage spotlight"),
    ),
)

LEGAL_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"processing", "refunded"}),
    "processing": frozenset({"shipped", "refunded"}),
    "shipped": frozenset({"delivered"}),
}
"""The status changes the simulator makes; delivered, cancelled and refunded are final."""

_BUYERS: Final = (
    "Ada L.", "Grace H.", "Alan T.", "Katherine J.", "Linus T.", "Margaret H.",
    "Tim B.", "Barbara L.", "Dennis R.", "Hedy L.", "Radia P.", "Ken T.",
)  # fmt: skip
_COMMENTS: Final[dict[int, tuple[str, ...]]] = {
    5: (
        "Absolutely lovely, arrived quickly!",
        "Better than the photos.",
        "Perfect gift, thank you!",
    ),
    4: ("Very nice, a little smaller than expected.", "Good quality, would buy again."),
    3: ("It's fine. Packaging could be better.", "Okay, took a while to arrive."),
    2: ("Colour is not as pictured.", "Arrived scratched, seller was helpful though."),
    1: ("Never arrived in one piece.", "Not what I ordered."),
}
_RATING_WEIGHTS: Final = {5: 50, 4: 28, 3: 12, 2: 6, 1: 4}
_CACHE_KEYS: Final = ("orders", "analytics:today", "reviews", "tier", "payouts", "catalogue")
_CACHE_REASONS: Final = ("catalogue updated", "payout schedule changed", "listing edited")
_ACTIONS: Final = ("order", "advance", "review", "analytics", "tier", "cache")
_ACTION_WEIGHTS: Final = (30, 45, 10, 8, 2, 5)
_OPENING: Final = ("order", "pay", "order", "review")
"""The first moves, so a demo shows an order and a payment within seconds."""


@dataclass
class _Order:
    order_id: str
    total: Decimal
    currency: str
    status: str = "pending"


@dataclass
class _Shop:
    open_orders: dict[str, _Order] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)
    tier: int = 0
    views: int = 0
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    ratings: list[int] = field(default_factory=list)


class Simulator:
    """Events for ``wallets`` (any spelling; checksummed in the output).

    ``seed``: the same seed gives the same sequence from :meth:`next_event`.
    ``rate``: events per second published by :meth:`run`.
    """

    def __init__(self, wallets: Sequence[str], *, seed: int | None = None, rate: float = 1.0):
        if not wallets:
            raise ValueError("the simulator needs at least one wallet")
        if rate <= 0:
            raise ValueError("rate must be positive (events per second)")
        self.wallets = tuple(dict.fromkeys(normalize_wallet(w) for w in wallets))
        self.rate = rate
        self._rng = random.Random(seed)
        self._shops = {wallet: _Shop() for wallet in self.wallets}
        self._queued: deque[tuple[str, SellerEvent]] = deque()
        self._opening: deque[str] = deque(_OPENING)
        self._order_ids: set[str] = set()
        self._reviews = 0

    def next_event(self) -> tuple[str, SellerEvent]:
        """The next ``(wallet, event)`` of the story."""
        if self._queued:
            return self._queued.popleft()
        if self._opening:
            wallet, action = self.wallets[0], self._opening.popleft()
        else:
            wallet = self._rng.choice(self.wallets)
            action = self._rng.choices(_ACTIONS, weights=_ACTION_WEIGHTS)[0]
        return wallet, self._act(wallet, action)

    async def run(self, publish: Publish) -> None:
        """Publish ``rate`` events per second through ``publish`` until cancelled."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        due = loop.time()
        while True:
            wallet, event = self.next_event()
            await publish(wallet, event)
            due += interval
            # Pacing, not synchronisation: a steady rate even when publish is slow.
            await asyncio.sleep(max(0.0, due - loop.time()))

    # --- the story ------------------------------------------------------------------

    def _act(self, wallet: str, action: str) -> SellerEvent:
        shop = self._shops[wallet]
        if action in ("advance", "pay") and not shop.open_orders:
            action = "order"
        if action == "tier" and shop.tier + 1 >= len(TIERS):
            action = "analytics"
        if action == "order":
            return self._new_order(shop)
        if action == "pay":
            pending = [o for o in shop.open_orders.values() if o.status == "pending"]
            if pending:
                return self._pay(wallet, shop, pending[0])
            action = "advance"
        if action == "advance":
            order = shop.open_orders[self._rng.choice(list(shop.open_orders))]
            return self._advance(wallet, shop, order)
        if action == "review":
            return self._review(shop)
        if action == "tier":
            return self._upgrade(shop)
        if action == "cache":
            return self._invalidate(shop)
        return self._analytics(shop)

    def _new_order(self, shop: _Shop) -> NewOrder:
        rng = self._rng
        currency = rng.choices(list(CURRENCIES), weights=_CURRENCY_WEIGHTS)[0]
        per_usd, step = CURRENCIES[currency]
        items = [
            OrderItem(
                name=name,
                sku=sku,
                quantity=rng.choices((1, 2, 3), weights=(70, 20, 10))[0],
                unit_price=max(step, (price * per_usd).quantize(step)),
            )
            for name, sku, price in rng.sample(CATALOGUE, rng.randint(1, 4))
        ]
        total = sum((item.unit_price * item.quantity for item in items), Decimal(0))
        order_id = self._fresh_order_id()
        shop.open_orders[order_id] = _Order(order_id, total, currency)
        shop.orders += 1
        shop.views += rng.randint(5, 40)
        return NewOrder(
            order_id=order_id,
            total=total,
            currency=currency,
            items=items,
            buyer=rng.choice(_BUYERS),
            status="pending",
        )

    def _fresh_order_id(self) -> str:
        while True:
            order_id = f"ORD-{self._rng.randrange(100_000, 1_000_000)}"
            if order_id not in self._order_ids:
                self._order_ids.add(order_id)
                return order_id

    def _pay(self, wallet: str, shop: _Shop, order: _Order) -> PaymentReceived:
        rng = self._rng
        payment = PaymentReceived(
            amount=order.total,
            currency=order.currency,
            transaction_hash=f"0x{rng.getrandbits(256):064x}",
            order_id=order.order_id,
            payer=normalize_wallet(f"0x{rng.getrandbits(160):040x}"),
        )
        shop.revenue[order.currency] = shop.revenue.get(order.currency, Decimal(0)) + order.total
        # The status change follows the payment as the very next event.
        self._queued.append((wallet, self._change(shop, order, "paid")))
        return payment

    def _advance(self, wallet: str, shop: _Shop, order: _Order) -> SellerEvent:
        roll = self._rng.random()
        if order.status == "pending":
            if roll < 0.85:
                return self._pay(wallet, shop, order)
            reason = self._rng.choice(("Buyer cancelled", "Payment not received in time"))
            return self._change(shop, order, "cancelled", reason)
        if order.status == "paid":
            if roll < 0.93:
                return self._change(shop, order, "processing")
            return self._change(shop, order, "refunded", "Out of stock")
        if order.status == "processing":
            if roll < 0.96:
                return self._change(shop, order, "shipped")
            return self._change(shop, order, "refunded", "Damaged before shipping")
        return self._change(shop, order, "delivered")

    def _change(
        self, shop: _Shop, order: _Order, status: str, reason: str | None = None
    ) -> OrderStatusChanged:
        event = OrderStatusChanged(
            order_id=order.order_id,
            previous_status=order.status,
            new_status=status,
            reason=reason,
        )
        order.status = status
        if status not in LEGAL_TRANSITIONS:
            del shop.open_orders[order.order_id]
        if status == "delivered":
            shop.delivered.append(order.order_id)
        return event

    def _review(self, shop: _Shop) -> ReviewReceived:
        rng = self._rng
        rating = rng.choices(list(_RATING_WEIGHTS), weights=list(_RATING_WEIGHTS.values()))[0]
        shop.ratings.append(rating)
        self._reviews += 1
        order_id = rng.choice(shop.delivered) if shop.delivered else None
        return ReviewReceived(
            review_id=f"REV-{rng.randrange(10_000, 100_000)}-{self._reviews}",
            rating=rating,
            order_id=order_id,
            comment=rng.choice(_COMMENTS[rating]),
            reviewer=rng.choice(_BUYERS),
        )

    def _upgrade(self, shop: _Shop) -> TierUpgraded:
        previous = TIERS[shop.tier][0]
        shop.tier += 1
        name, benefits = TIERS[shop.tier]
        return TierUpgraded(previous_tier=previous, new_tier=name, benefits=list(benefits))

    def _analytics(self, shop: _Shop) -> AnalyticsUpdate:
        shop.views += self._rng.randint(20, 200)
        return AnalyticsUpdate(
            period="today",
            views=shop.views,
            orders=shop.orders,
            revenue=dict(shop.revenue),
            conversion_rate=round(min(1.0, shop.orders / shop.views), 4),
            average_rating=(
                round(sum(shop.ratings) / len(shop.ratings), 2) if shop.ratings else None
            ),
        )

    def _invalidate(self, shop: _Shop) -> CacheInvalidate:
        rng = self._rng
        keys = rng.sample(_CACHE_KEYS, rng.randint(1, 2))
        if shop.open_orders and rng.random() < 0.5:
            keys.append(f"order:{rng.choice(list(shop.open_orders))}")
        return CacheInvalidate(keys=keys, reason=rng.choice(_CACHE_REASONS))
