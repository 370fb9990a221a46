"""The checked-in JSON Schema must match the models."""

from __future__ import annotations

from pathlib import Path

from app.protocol.schema import render

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json"


def test_checked_in_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "docs/protocol.schema.json is stale: run "
        "`.venv/bin/python -m app.protocol.schema > docs/protocol.schema.json`"
    )


def test_schema_names_every_frame_and_event() -> None:
    text = render()
    for name in ("Hello", "Auth", "EventFrame", "Gap", "Publish", "NewOrder", "TierUpgraded"):
        assert f'"{name}"' in text
    assert '"orderId"' in text and '"transactionHash"' in text and '"newTier"' in text
