"""Settings: defaults, validation, atomic save, and a damaged file never being fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config.paths import app_paths
from app.config.settings import (
    ConnectionSettings,
    NotificationSettings,
    Settings,
    load_settings,
    save_settings,
)


def test_missing_file_gives_defaults_without_a_notice(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "settings.json")
    assert loaded.settings == Settings()
    assert loaded.notice is None
    assert loaded.settings.notifications.position == "top-right"
    assert not loaded.settings.is_configured


def test_round_trip(tmp_path: Path, wallet_a: str) -> None:
    path = tmp_path / "config" / "settings.json"
    settings = Settings(
        connection=ConnectionSettings(server_url="wss://gw.example.com", wallet=wallet_a.lower()),
        notifications=NotificationSettings(position="bottom-left", max_visible=2),
    )
    save_settings(settings, path)
    loaded = load_settings(path)
    assert loaded.notice is None
    assert loaded.settings == settings
    assert loaded.settings.connection.wallet == wallet_a
    assert loaded.settings.is_configured
    # Secrets never go to the settings file.
    assert "token" not in path.read_text()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"notifications": {"position": "middle"}}', "notifications.position"),
        ('{"connection": {"wallet": "0x123"}}', "connection.wallet"),
        ('{"connection": {"serverUrl": "x", "server_url": "http://x"}}', "server_url"),
    ],
)
def test_damaged_file_is_kept_aside_and_defaults_used(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.notice is not None and reason in loaded.notice
    kept = list(tmp_path.glob("settings.damaged-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == content
    assert kept[0].name in loaded.notice
    assert not path.exists()


def test_two_damaged_files_in_a_row_are_both_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    for content in ("{", "["):
        path.write_text(content)
        assert load_settings(path).notice
    assert sorted(p.read_text() for p in tmp_path.glob("settings.damaged-*")) == ["[", "{"]


def test_unknown_keys_from_a_newer_version_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"notifications": {"maxVisible": 3, "max_visible": 3, "x": 1}}))
    loaded = load_settings(path)
    assert loaded.notice is None
    assert loaded.settings.notifications.max_visible == 3


def test_out_of_range_values_are_refused_with_the_field_name() -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationSettings(max_visible=0)
    assert "max_visible" in str(caught.value)


def test_paths_follow_seller_notifier_home(isolated_home: Path) -> None:
    paths = app_paths().ensure()
    assert paths.settings_file.is_relative_to(isolated_home)
    assert paths.client_db.is_relative_to(isolated_home)
    assert paths.log_dir.is_dir() and paths.data_dir.is_dir()
