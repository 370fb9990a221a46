"""``seller-notifier publish --allow-insecure``: ws:// to another computer only when asked.

No packet leaves this machine: 192.0.2.0/24 is reserved for documentation, and the
connection attempt itself is replaced, so the test sees how far the command got."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import build_parser, main
from app.cli.arguments import ExitCode
from app.client import publisher

ELSEWHERE = "ws://192.0.2.10:8765"


@pytest.fixture(autouse=True)
def keep_sigterm() -> Iterator[None]:
    """``main`` installs its start-up SIGTERM handler: put pytest's back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Connection attempts the publisher makes (each fails as an unreachable host would)."""
    tried: list[str] = []

    async def unreachable(url: str, **options: Any) -> None:
        tried.append(url)
        raise OSError(113, "No route to host")

    monkeypatch.setattr(publisher, "connect", unreachable)
    return tried


def test_the_flag_is_accepted() -> None:
    args = build_parser().parse_args(["publish", "--server", ELSEWHERE, "--allow-insecure"])
    assert args.allow_insecure is True
    args = build_parser().parse_args(["publish", "--server", ELSEWHERE])
    assert args.allow_insecure is False


def test_without_the_flag_plain_ws_to_another_computer_is_refused(
    attempts: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text("")
    code = main(["publish", "--server", ELSEWHERE, "--key", "k", str(source)])
    assert code == ExitCode.UNAVAILABLE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"{ELSEWHERE} is not encrypted" in line and "--allow-insecure" in line
    assert attempts == [], "refused before connecting"


def test_with_the_flag_the_publisher_connects(
    attempts: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text("")
    code = main(["publish", "--server", ELSEWHERE, "--allow-insecure", "--key", "k", str(source)])
    assert attempts == [ELSEWHERE]
    assert code == ExitCode.UNAVAILABLE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "cannot reach the gateway" in line and "not encrypted" not in line
