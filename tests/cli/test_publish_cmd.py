"""``seller-notifier publish``: JSON lines in, durable events out, every bad line named."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_gateway_cmd import GatewayProcess, device_token, first_events, seller_notifier

from app.cli.publish_cmd import MAX_LINE
from app.config.paths import app_paths
from app.config.secrets import load_or_create


def _line(wallet: str, number: int, event_id: str | None = None) -> str:
    event = {"type": "new_order", "orderId": f"ORD-{number}", "total": "9.99", "currency": "EUR"}
    entry: dict[str, object] = {"wallet": wallet, "event": event}
    if event_id is not None:
        entry["id"] = event_id
    return json.dumps(entry)


@pytest.fixture
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess() as running:
        yield running
        assert running.stop() == 0


def test_good_lines_are_published_and_bad_lines_named(
    gateway: GatewayProcess, tmp_path: Path, wallet_a: str
) -> None:
    lines = [
        _line(wallet_a, 1),
        "{not json",
        _line(wallet_a, 2),
        "",
        json.dumps({"wallet": "0x1234", "event": {"type": "new_order"}}),
        json.dumps({"wallet": wallet_a, "event": {"type": "new_ordr"}}),
        json.dumps({"wallet": wallet_a, "event": {"type": "new_order", "orderId": "X"}}),
        _line(wallet_a, 3),
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")

    result = seller_notifier("publish", "--server", gateway.url, str(source))

    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert [e.split(":")[0] for e in errors[:-1]] == ["line 2", "line 5", "line 6", "line 7"]
    assert "not a wallet address" in errors[1]
    assert "new_ordr" in errors[2]
    assert "total" in errors[3]
    assert errors[-1] == "published 3 events (0 duplicates), 4 lines rejected"
    events = asyncio.run(first_events(gateway.url, device_token(wallet_a), 3))
    assert [e.event.order_id for e in events] == ["ORD-1", "ORD-2", "ORD-3"]  # type: ignore[union-attr]


def test_repeated_ids_are_delivered_once(
    gateway: GatewayProcess, tmp_path: Path, wallet_a: str
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(
        "\n".join([_line(wallet_a, 1, "a"), _line(wallet_a, 2, "b"), _line(wallet_a, 1, "a")])
    )
    first = seller_notifier("publish", "--server", gateway.url, str(source))
    again = seller_notifier("publish", "--server", gateway.url, str(source))
    assert first.returncode == 0, first.stderr
    assert first.stderr.strip() == "published 3 events (1 duplicates)"
    assert again.stderr.strip() == "published 3 events (3 duplicates)"
    source.write_text(_line(wallet_a, 3, "c"))
    assert seller_notifier("publish", "--server", gateway.url, str(source)).returncode == 0

    events = asyncio.run(first_events(gateway.url, device_token(wallet_a), 3))
    assert [(e.seq, e.id) for e in events] == [(1, "a"), (2, "b"), (3, "c")]


def test_lines_can_come_from_stdin_with_the_key_from_the_environment(
    gateway: GatewayProcess, wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = app_paths().gateway_dir / "publish-key"
    monkeypatch.setenv("SELLER_NOTIFIER_PUBLISH_KEY", key_file.read_text().strip())
    key_file.unlink()
    stdin = "\n".join(_line(wallet_a, n) for n in range(1, 1201)) + "\n"
    result = seller_notifier("publish", "--server", gateway.url, "-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "published 1200 events (0 duplicates)"
    events = asyncio.run(first_events(gateway.url, device_token(wallet_a), 1200))
    assert [e.seq for e in events] == list(range(1, 1201))


def test_a_wrong_key_exits_3(gateway: GatewayProcess, tmp_path: Path, wallet_a: str) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(_line(wallet_a, 1))
    result = seller_notifier("publish", "--server", gateway.url, "--key", "wrong", str(source))
    assert result.returncode == 3
    [line] = result.stderr.strip().splitlines()
    assert "refused the publish key" in line


def test_an_unreachable_gateway_exits_4_with_one_line(tmp_path: Path, wallet_a: str) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(_line(wallet_a, 1))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{closed.getsockname()[1]}"
        result = seller_notifier("publish", "--server", url, "--key", "k", str(source))
    assert result.returncode == 4
    [line] = result.stderr.strip().splitlines()
    assert url in line
    assert "Traceback" not in result.stderr


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = seller_notifier("publish", "--server", "ws://127.0.0.1:1", "--key", "k", str(missing))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert str(missing) in line


def test_without_a_key_it_says_where_to_get_one(tmp_path: Path) -> None:
    result = seller_notifier("publish", "--server", "ws://127.0.0.1:1", "-", stdin="")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "--key" in line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_publishing_from_an_open_pipe_with_exit_0(
    gateway: GatewayProcess, wallet_a: str, signum: int
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "publish", "--server", gateway.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(_line(wallet_a, 1) + "\n" + _line(wallet_a, 2) + "\n")
        process.stdin.flush()
        # Delivered means published: the command now waits for more input.
        events = asyncio.run(first_events(gateway.url, device_token(wallet_a), 2))
        assert [e.seq for e in events] == [1, 2]
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "published 2 events (0 duplicates)" in stderr
    assert "Traceback" not in stderr


def test_an_overlong_line_is_refused_without_reading_it_whole(
    gateway: GatewayProcess, tmp_path: Path, wallet_a: str
) -> None:
    source = tmp_path / "events.jsonl"
    with source.open("w") as out:
        out.write(_line(wallet_a, 1) + "\n")
        out.write('{"wallet": "' + "9" * (MAX_LINE + 1) + '"}\n')
        out.write(_line(wallet_a, 2) + "\n")
    result = seller_notifier("publish", "--server", gateway.url, str(source))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"line 2: longer than {MAX_LINE} bytes",
        "published 2 events (0 duplicates), 1 line rejected",
    ]


def test_losing_the_gateway_exits_4_naming_the_line_to_resume_from(wallet_a: str) -> None:
    with GatewayProcess() as gateway:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "publish", "--server", gateway.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdin is not None and process.stderr is not None
            process.stdin.write(_line(wallet_a, 1) + "\n" + _line(wallet_a, 2) + "\n")
            process.stdin.flush()
            asyncio.run(first_events(gateway.url, device_token(wallet_a), 2))
            assert gateway.stop() == 0
            # The input stays open: the command notices the lost connection by itself.
            assert process.wait(timeout=30) == 4
            stderr = process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)
    lines = stderr.strip().splitlines()
    assert lines[0] == "published 2 events (0 duplicates)"
    assert gateway.url in lines[1] and "at line 3" in lines[1]


@pytest.mark.parametrize("command", ["publish", "listen"])
def test_plain_ws_to_another_machine_is_refused_before_connecting(
    command: str, wallet_a: str
) -> None:
    # 192.0.2.0/24 is reserved for documentation: nothing may ever be sent there.
    args = ["--server", "ws://192.0.2.10:8765"]
    if command == "listen":
        args += ["--wallet", wallet_a, "--token", "not-sent"]
    else:
        load_or_create(app_paths().gateway_dir)
    result = seller_notifier(command, *args, stdin="")
    assert result.returncode == (2 if command == "listen" else 4)
    [line] = result.stderr.strip().splitlines()
    assert "ws://192.0.2.10:8765 is not encrypted" in line
    assert "wss://192.0.2.10:8765" in line and "--allow-insecure" in line
