"""Gap records: what a device will never receive, kept beside its events."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store import ClientStore, StoreError
from app.store.gaps import GapLog


def test_gaps_are_kept_across_restarts_newest_first(tmp_path: Path, wallet_a: str,
                                                    wallet_b: str) -> None:  # fmt: skip
    db = tmp_path / "client.sqlite3"
    ClientStore(db).close()
    with GapLog(db) as gaps:
        assert gaps.record(wallet_a, 42, 1041, "no longer kept by the gateway")
        assert gaps.record(wallet_b, 7, 7, "arrived unreadable")
        assert not gaps.record(wallet_a, 42, 1041, "no longer kept by the gateway")

    with GapLog(db) as reopened:
        everything = reopened.recent()
        only_a = reopened.recent(wallet=wallet_a)

    assert [(g.wallet, g.from_seq, g.to_seq) for g in everything] == [
        (wallet_b, 7, 7),
        (wallet_a, 42, 1041),
    ]
    assert [g.count for g in only_a] == [1000]
    assert only_a[0].reason == "no longer kept by the gateway"


def test_a_closed_gap_log_says_so(tmp_path: Path) -> None:
    gaps = GapLog(":memory:")
    gaps.close()
    with pytest.raises(StoreError, match="closed"):
        gaps.recent()
