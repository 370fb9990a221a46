"""Property tests: folding does not depend on the order events arrive in, nor on repeats.

Hypothesis runs derandomized (the same examples every run), with no deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.folding import fold_events, merge_orders
from app.protocol import EventFrame

WALLETS = (
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
)
BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ORDER_IDS = ("A1", "A2", "A3")
STATUSES = ("pending", "paid", "Processing", "shipped", "delivered", "canceled", "on hold")

PROPERTY = settings(derandomize=True, deadline=None, max_examples=150)

minutes = st.integers(min_value=0, max_value=120)
maybe_time = st.none() | minutes.map(lambda m: (BASE + timedelta(minutes=m)).isoformat())


@st.composite
def event_bodies(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["new_order", "status", "status", "payment", "review",
                                 "tier", "analytics", "other"]))  # fmt: skip
    order_id = draw(st.sampled_from(ORDER_IDS))
    when = draw(maybe_time)
    if kind == "new_order":
        body: dict[str, Any] = {
            "type": "new_order",
            "orderId": order_id,
            "total": str(draw(st.integers(1, 500))) + ".50",
            "currency": draw(st.sampled_from(["EUR", "USD"])),
            "status": draw(st.sampled_from(STATUSES)),
            "createdAt": when,
        }
    elif kind == "status":
        body = {
            "type": "order_status_changed",
            "orderId": order_id,
            "newStatus": draw(st.sampled_from(STATUSES)),
            "changedAt": when,
        }
    elif kind == "payment":
        body = {
            "type": "payment_received",
            "amount": str(draw(st.integers(1, 99))),
            "currency": "EUR",
            "transactionHash": "0x" + draw(st.sampled_from("abc")) * 64,
            "orderId": order_id,
            "receivedAt": when,
        }
    elif kind == "review":
        body = {
            "type": "review_received",
            "reviewId": draw(st.sampled_from(["R1", "R2"])),
            "rating": draw(st.integers(1, 5)),
            "createdAt": when,
        }
    elif kind == "tier":
        body = {"type": "tier_upgraded", "newTier": draw(st.sampled_from(["Silver", "Gold"])),
                "upgradedAt": when}  # fmt: skip
    elif kind == "analytics":
        body = {"type": "analytics_update", "views": draw(st.integers(0, 9)), "generatedAt": when}
    else:
        body = {"type": "cache_invalidate", "keys": ["orders"]}
    return {key: value for key, value in body.items() if value is not None}


@st.composite
def logs(draw: st.DrawFn) -> list[EventFrame]:
    """A plausible log: per wallet, seqs 1..n; gateway times rise with seq."""
    frames = []
    for wallet in WALLETS[: draw(st.integers(1, 2))]:
        for seq, body in enumerate(draw(st.lists(event_bodies(), max_size=25)), start=1):
            frames.append(
                EventFrame.model_validate(
                    {
                        "wallet": wallet,
                        "seq": seq,
                        "id": f"evt-{seq}",
                        "ts": (BASE + timedelta(minutes=seq)).isoformat(),
                        "event": body,
                    }
                )
            )
    return frames


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[EventFrame], list[EventFrame]]:
    """A log in seq order, and the same events in any order with some repeated."""
    log = draw(logs())
    shuffled = draw(st.permutations(log))
    repeats = draw(st.lists(st.sampled_from(log), max_size=10)) if log else []
    mixed = list(shuffled)
    for repeat in repeats:
        mixed.insert(draw(st.integers(0, len(mixed))), repeat)
    return sorted(log, key=lambda f: (f.wallet, f.seq)), mixed


@PROPERTY
@given(deliveries())
def test_any_arrival_order_with_repeats_folds_like_seq_order(
    case: tuple[list[EventFrame], list[EventFrame]],
) -> None:
    in_order, delivered = case
    assert fold_events(delivered) == fold_events(in_order)


@PROPERTY
@given(deliveries())
def test_folding_twice_is_folding_once(case: tuple[list[EventFrame], list[EventFrame]]) -> None:
    in_order, _ = case
    assert fold_events(in_order + in_order) == fold_events(in_order)


@PROPERTY
@given(logs(), st.data())
def test_merging_partial_folds_gives_the_whole_fold(
    log: list[EventFrame], data: st.DataObject
) -> None:
    # Two devices (or a refold and a live fold) each saw part of the log.
    split = data.draw(st.integers(0, len(log)))
    left, right = fold_events(log[:split]), fold_events(log[split:])
    whole = fold_events(log)
    for key, order in whole.orders.items():
        parts = [p for p in (left.orders.get(key), right.orders.get(key)) if p is not None]
        merged = parts[0] if len(parts) == 1 else merge_orders(parts[0], parts[1])
        assert merged == order
