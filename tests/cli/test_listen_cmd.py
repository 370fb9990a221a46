"""``seller-notifier listen`` as a real process against a real gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

from app.config.secrets import GatewaySecrets
from app.gateway.bus.sqlite import SqliteEventLog
from app.gateway.server import Gateway, GatewayConfig
from app.gateway.tokens import issue_token
from app.protocol import NewOrder, PaymentReceived, SellerEvent

T = TypeVar("T")
DEADLINE = 15.0
"""Seconds any single wait may take (a process start included) before the test fails."""
ROOT = Path(__file__).resolve().parents[2]


class ThreadedGateway:
    """A real Gateway on 127.0.0.1:0, running on its own loop in a thread.

    These tests are synchronous (they drive a subprocess); the gateway still runs
    in this process so events can be published straight into it.
    """

    def __init__(self, db: Path) -> None:
        self.secrets = GatewaySecrets(token_secret="t" * 40, publish_key="p" * 40)
        self._db = db
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._gateway: Gateway | None = None

    def __enter__(self) -> ThreadedGateway:
        self._thread.start()
        config = GatewayConfig(secrets=self.secrets, host="127.0.0.1", port=0)
        self._gateway = Gateway(config, SqliteEventLog(self._db))
        self._call(self._gateway.start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._gateway is not None:
            self._call(self._gateway.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(DEADLINE)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(DEADLINE)

    @property
    def url(self) -> str:
        assert self._gateway is not None
        return self._gateway.url

    def token(self, wallet: str) -> str:
        return issue_token(self.secrets.token_secret, wallet, timedelta(hours=1))

    def publish(self, wallet: str, event: SellerEvent, key: str | None = None) -> None:
        assert self._gateway is not None
        self._call(self._gateway.publish(wallet, event, key))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ThreadedGateway]:
    with ThreadedGateway(tmp_path / "gateway.sqlite3") as running:
        yield running


class Listener:
    """``python -m app listen …`` with its stdout and stderr read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "listen", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=_pump, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for pump in self._pumps:
            pump.start()

    def next_event(self) -> dict[str, Any]:
        try:
            line = self.stdout.get(timeout=DEADLINE)
        except queue.Empty:
            pytest.fail(f"no event printed; stderr so far: {self.stderr_lines}")
        value: dict[str, Any] = json.loads(line)
        return value

    def wait_for_stderr(self, prefix: str) -> str:
        """The first stderr line starting with ``prefix`` (waiting for it)."""
        while True:
            try:
                line = self.stderr.get(timeout=DEADLINE)
            except queue.Empty:
                pytest.fail(f"no stderr line starting {prefix!r}; got {self.stderr_lines}")
            self.stderr_lines.append(line)
            if line.startswith(prefix):
                return line

    def finish(self) -> int:
        """Wait for the exit; returns the exit code (stderr is all read by then)."""
        try:
            code = self.process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("listen did not exit")
        while True:
            try:
                line = self.stderr.get(timeout=DEADLINE)
            except queue.Empty:
                pytest.fail("stderr was not closed")
            if line == "":  # end of stream
                return code
            self.stderr_lines.append(line)

    def close(self) -> None:
        """Kill the process if it still runs, and release its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(DEADLINE)
        for pump in self._pumps:
            pump.join(DEADLINE)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put("")


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    """Listeners started by a test; any still running at the end is killed."""
    started: list[Listener] = []
    yield started
    for listener in started:
        listener.close()


def order(number: int) -> NewOrder:
    return NewOrder(order_id=f"ORD-{number}", total=Decimal("41.50"), currency="usd")


def run_listen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "listen", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_events_are_printed_as_json_lines_until_a_signal_ends_it_cleanly(
    gateway: ThreadedGateway, listeners: list[Listener], wallet_a: str, stop_signal: int
) -> None:
    listener = Listener(
        "--server", gateway.url, "--wallet", wallet_a.lower(), "--token", gateway.token(wallet_a),
        "--verbose",
    )  # fmt: skip
    listeners.append(listener)
    assert listener.wait_for_stderr("connecting to ") == f"connecting to {gateway.url}"
    connected = listener.wait_for_stderr("connected as ")

    gateway.publish(wallet_a, order(1), key="ord-1-created")
    paid = PaymentReceived(
        amount=Decimal("0.0125"), currency="ETH", transaction_hash="0x" + "9f" * 32,
        order_id="ORD-1",
    )  # fmt: skip
    gateway.publish(wallet_a, paid)
    first, second = listener.next_event(), listener.next_event()
    listener.process.send_signal(stop_signal)

    assert listener.finish() == 0
    assert connected == f"connected as {wallet_a} (head 0)"
    assert first == {
        "seq": 1,
        "id": "ord-1-created",
        "wallet": wallet_a,
        "event": {
            "type": "new_order",
            "orderId": "ORD-1",
            "total": "41.50",
            "currency": "USD",
            "items": [],
            "status": "pending",
        },
    }
    assert second["seq"] == 2
    assert second["event"]["amount"] == "0.0125"
    assert second["event"]["transactionHash"] == "0x" + "9f" * 32
    assert not any("Traceback" in line for line in listener.stderr_lines)


def test_since_replays_what_was_published_before(
    gateway: ThreadedGateway, listeners: list[Listener], wallet_a: str
) -> None:
    for n in (1, 2, 3):
        gateway.publish(wallet_a, order(n))
    listener = Listener(
        "--server", gateway.url, "--wallet", wallet_a, "--token", gateway.token(wallet_a),
        "--since", "1",
    )  # fmt: skip
    listeners.append(listener)

    replayed = [listener.next_event()["seq"] for _ in range(2)]
    gateway.publish(wallet_a, order(4))
    live = listener.next_event()["seq"]
    listener.process.send_signal(signal.SIGTERM)

    assert replayed == [2, 3] and live == 4
    assert listener.finish() == 0
    assert listener.stderr_lines == []


def test_without_since_only_live_events_are_printed(
    gateway: ThreadedGateway, listeners: list[Listener], wallet_a: str
) -> None:
    gateway.publish(wallet_a, order(1))
    listener = Listener(
        "--server", gateway.url, "--wallet", wallet_a, "--token", gateway.token(wallet_a),
        "--verbose",
    )  # fmt: skip
    listeners.append(listener)
    listener.wait_for_stderr("connected as ")

    gateway.publish(wallet_a, order(2))

    assert listener.next_event()["seq"] == 2
    listener.process.send_signal(signal.SIGINT)
    assert listener.finish() == 0


def test_a_refused_token_exits_3_with_one_line(gateway: ThreadedGateway, wallet_a: str) -> None:
    expired = issue_token(
        gateway.secrets.token_secret,
        wallet_a,
        timedelta(days=1),
        now=datetime.now(UTC) - timedelta(days=3),
    )

    result = run_listen("--server", gateway.url, "--wallet", wallet_a, "--token", expired)

    assert result.returncode == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("seller-notifier: token refused: token expired on ")


def test_a_token_for_another_wallet_exits_3_naming_both(
    gateway: ThreadedGateway, wallet_a: str, wallet_b: str
) -> None:
    token = gateway.token(wallet_a)

    result = run_listen("--server", gateway.url, "--wallet", wallet_b, "--token", token)

    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"seller-notifier: this token is for wallet {wallet_a}, not {wallet_b}"
    ]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--wallet", "0x1234"], "is not a wallet address"),
        (["--wallet", "0x52908400098527886e0f7030069857d2e4169EE7"], "wrong EIP-55 checksum"),
        (["--server", "http://example.org"], "is not a gateway URL"),
        (["--since", "-1"], "is not a seq"),
        (["--token", ""], "no token"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], complaint: str, wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SELLER_NOTIFIER_TOKEN", raising=False)
    defaults = {"--server": "ws://127.0.0.1:9", "--wallet": wallet_a, "--token": "t"}
    for name, value in zip(args[::2], args[1::2], strict=True):
        defaults[name] = value
    argv = [part for pair in defaults.items() for part in pair]

    result = run_listen(*argv)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert complaint in line
    assert result.stdout == ""


def test_an_unreachable_gateway_is_retried_until_interrupted(
    listeners: list[Listener], wallet_a: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}"
    listener = Listener("--server", url, "--wallet", wallet_a, "--token", "t", "--verbose")
    listeners.append(listener)

    retrying = listener.wait_for_stderr("gateway unreachable")
    listener.process.send_signal(signal.SIGTERM)

    assert retrying.startswith(f"gateway unreachable at {url}: connection refused; retrying in ")
    assert listener.finish() == 0
