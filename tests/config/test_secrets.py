"""Gateway secrets: created once on first start, read by token/publish, env overrides."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.config import secrets


def test_created_once_owner_only_and_stable(tmp_path: Path) -> None:
    first = secrets.load_or_create(tmp_path / "gw")
    second = secrets.load_or_create(tmp_path / "gw")
    assert first == second
    assert len(first.token_secret) >= secrets.MIN_SECRET_LENGTH
    assert first.token_secret != first.publish_key
    for name in ("token-secret", "publish-key"):
        mode = stat.S_IMODE((tmp_path / "gw" / name).stat().st_mode)
        assert mode == 0o600
    assert secrets.token_secret(tmp_path / "gw") == first.token_secret
    assert secrets.publish_key(tmp_path / "gw") == first.publish_key


def test_repr_never_shows_secrets(tmp_path: Path) -> None:
    loaded = secrets.load_or_create(tmp_path)
    assert loaded.token_secret not in repr(loaded)
    assert loaded.publish_key not in repr(loaded)


def test_reading_before_the_gateway_ever_ran_gives_advice(tmp_path: Path) -> None:
    with pytest.raises(secrets.SecretMissing) as caught:
        secrets.token_secret(tmp_path)
    assert "SELLER_NOTIFIER_SECRET" in str(caught.value)
    with pytest.raises(secrets.SecretMissing) as caught:
        secrets.publish_key(tmp_path)
    assert "SELLER_NOTIFIER_PUBLISH_KEY" in str(caught.value)


def test_environment_wins_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELLER_NOTIFIER_SECRET", "s" * 40)
    monkeypatch.setenv("SELLER_NOTIFIER_PUBLISH_KEY", "publisher-key")
    loaded = secrets.load_or_create(tmp_path / "gw")
    assert loaded.token_secret == "s" * 40
    assert loaded.publish_key == "publisher-key"
    assert not (tmp_path / "gw").exists()


def test_a_short_signing_secret_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SELLER_NOTIFIER_SECRET", "short")
    with pytest.raises(secrets.SecretMissing) as caught:
        secrets.load_or_create(tmp_path)
    assert "too short" in str(caught.value)
