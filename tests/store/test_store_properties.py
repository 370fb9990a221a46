"""Property test: whatever order the store receives a story in, and however often an
event is repeated, it ends up with what folding the story in seq order gives.

Hypothesis runs derandomized (the same examples every run), with no deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.folding import fold_events
from app.gateway.simulator import Simulator
from app.protocol import EventFrame
from app.store import ClientStore

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def story(seed: int, length: int) -> list[EventFrame]:
    simulator = Simulator([WALLET], seed=seed)
    frames = []
    for seq in range(1, length + 1):
        wallet, event = simulator.next_event()
        frames.append(
            EventFrame(wallet=wallet, seq=seq, id=f"evt-{seq}",
                       ts=BASE + timedelta(seconds=seq), event=event)
        )  # fmt: skip
    return frames


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[EventFrame], list[EventFrame]]:
    frames = story(draw(st.integers(0, 1000)), draw(st.integers(1, 60)))
    mixed = list(draw(st.permutations(frames)))
    for repeat in draw(st.lists(st.sampled_from(frames), max_size=15)):
        mixed.insert(draw(st.integers(0, len(mixed))), repeat)
    return frames, mixed


@settings(derandomize=True, deadline=None, max_examples=60)
@given(deliveries())
def test_the_store_folds_any_arrival_order_like_seq_order(
    case: tuple[list[EventFrame], list[EventFrame]],
) -> None:
    in_order, delivered = case
    expected = fold_events(in_order)
    with ClientStore(":memory:") as store:
        for frame in delivered:
            store.record(frame)

        assert {(o.wallet, o.order_id): o for o in store.orders()} == expected.orders
        assert {(p.wallet, p.transaction_hash): p for p in store.payments()} == expected.payments
        assert {(r.wallet, r.review_id): r for r in store.reviews()} == expected.reviews
        assert store.tier(WALLET) == expected.tiers.get(WALLET)
        assert len(store.notices(limit=1000)) == len(in_order)

        # Rebuilding from the stored events gives the same again.
        store.refold(["orders", "payments", "reviews", "tier", "analytics"])
        assert {(o.wallet, o.order_id): o for o in store.orders()} == expected.orders
        assert {(a.wallet, a.stamp.event_id): a for a in store.analytics()} == expected.analytics
