"""``seller-notifier gateway`` as a real process: it says where it listens, serves,
and exits 0 on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from websockets.asyncio.client import connect

from app.config.paths import app_paths
from app.config.secrets import load_or_create
from app.gateway.demo import DEMO_WALLET
from app.gateway.tokens import issue_token
from app.protocol import Auth, EventFrame, Ok, decode_server_frame, encode_frame

DEADLINE = 30.0
LISTENING = "seller-notifier gateway listening on "


def seller_notifier(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command to completion (it inherits this test's SELLER_NOTIFIER_HOME)."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


class GatewayProcess:
    """``seller-notifier gateway --port 0 …`` running in the background.

    A thread drains stderr into a queue, so the process never blocks on a full
    pipe and the test can wait for a line with a deadline.
    """

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "gateway", "--port", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        line = self.wait_for(lambda text: text.startswith(LISTENING))
        self.url = line.removeprefix(LISTENING).strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, wanted: Callable[[str], bool]) -> str:
        while True:
            line = self._lines.get(timeout=DEADLINE)
            if line is None:
                raise AssertionError("the gateway exited:\n" + "".join(self.stderr))
            self.stderr.append(line)
            if wanted(line):
                return line

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=DEADLINE)
        while (line := self._lines.get(timeout=DEADLINE)) is not None:
            self.stderr.append(line)
        return code

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=DEADLINE)
        self._drainer.join(timeout=DEADLINE)
        assert self.process.stderr is not None
        self.process.stderr.close()


async def first_events(url: str, token: str, count: int, since: int | None = 0) -> list[EventFrame]:
    """Connect as a device and collect the first ``count`` events after ``since``."""
    async with connect(url, open_timeout=DEADLINE) as ws:
        await asyncio.wait_for(ws.recv(), DEADLINE)  # hello
        await ws.send(encode_frame(Auth(token=token, since=since)))
        ok = decode_server_frame(await asyncio.wait_for(ws.recv(), DEADLINE))
        assert isinstance(ok, Ok), ok
        events: list[EventFrame] = []
        while len(events) < count:
            frame = decode_server_frame(await asyncio.wait_for(ws.recv(), DEADLINE))
            if isinstance(frame, EventFrame):
                events.append(frame)
        return events


def device_token(wallet: str) -> str:
    secret = load_or_create(app_paths().gateway_dir).token_secret
    return issue_token(secret, wallet, timedelta(hours=1))


@pytest.fixture
def gateway_process() -> Iterator[GatewayProcess]:
    with GatewayProcess() as gateway:
        yield gateway


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_gateway_serves_until_a_signal_then_exits_0(
    gateway_process: GatewayProcess, signum: int
) -> None:
    assert gateway_process.url.startswith("ws://127.0.0.1:")
    connection = http.client.HTTPConnection("127.0.0.1", gateway_process.port, timeout=DEADLINE)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert (response.status, response.read().strip()) == (200, b"ok")
    connection.close()

    assert gateway_process.stop(signum) == 0
    assert "Traceback" not in "".join(gateway_process.stderr)


def test_the_first_start_creates_the_secrets_and_the_log(
    gateway_process: GatewayProcess, isolated_home: Path
) -> None:
    gateway_dir = app_paths().gateway_dir
    assert gateway_dir.is_relative_to(isolated_home)
    assert (gateway_dir / "token-secret").stat().st_mode & 0o077 == 0
    assert (gateway_dir / "publish-key").exists()
    assert app_paths().gateway_db.exists()
    assert gateway_process.stop() == 0


def test_a_simulating_gateway_streams_events_for_the_demo_wallet() -> None:
    with GatewayProcess("--simulate", "--rate", "50") as gateway:
        events = asyncio.run(first_events(gateway.url, device_token(DEMO_WALLET), 5))
        assert [e.seq for e in events] == [1, 2, 3, 4, 5]
        assert {e.wallet for e in events} == {DEMO_WALLET}
        assert events[0].event.type == "new_order"
        assert gateway.stop() == 0


def test_a_simulating_gateway_uses_the_given_wallets(wallet_a: str, wallet_b: str) -> None:
    args = ["--simulate", "--rate", "50", "--wallet", wallet_a.lower(), "--wallet", wallet_b]
    with GatewayProcess(*args) as gateway:
        events = asyncio.run(first_events(gateway.url, device_token(wallet_a), 1))
        assert events[0].wallet == wallet_a
        assert gateway.stop() == 0


def test_a_port_in_use_is_one_line_and_exit_4() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = seller_notifier("gateway", "--port", str(port))
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1] == (
        f"seller-notifier: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--port", "70000"], ["--wallet", "0x52908400098527886e0f7030069857d2e4169ee7"],
     ["--simulate", "--rate", "0"], ["--simulate", "--wallet", "0x12"]],
)  # fmt: skip
def test_bad_arguments_exit_2(args: list[str]) -> None:
    result = seller_notifier("gateway", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unusable_event_log_is_one_line_and_exit_1(tmp_path: Path) -> None:
    not_a_database = tmp_path / "events.sqlite3"
    not_a_database.write_text("this is not SQLite\n" * 100)
    result = seller_notifier("gateway", "--port", "0", "--db", str(not_a_database))
    assert result.returncode == 1
    assert f"cannot open the event log {not_a_database}" in result.stderr
    assert "Traceback" not in result.stderr


def test_events_survive_a_restart_of_the_process(wallet_a: str) -> None:
    with GatewayProcess("--simulate", "--rate", "100", "--wallet", wallet_a) as gateway:
        before = asyncio.run(first_events(gateway.url, device_token(wallet_a), 3))
        assert gateway.stop() == 0
    with GatewayProcess() as again:
        after = asyncio.run(first_events(again.url, device_token(wallet_a), 3))
        assert [(e.seq, e.id) for e in after] == [(e.seq, e.id) for e in before]
        assert again.stop() == 0


def test_the_environment_does_not_leak_secrets_into_the_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "env-secret-" + "z" * 40
    monkeypatch.setenv("SELLER_NOTIFIER_SECRET", secret)
    with GatewayProcess() as gateway:
        asyncio.run(first_events(gateway.url, device_token(DEMO_WALLET), 0, since=None))
        assert gateway.stop() == 0
    assert secret not in "".join(gateway.stderr)
    assert os.environ["SELLER_NOTIFIER_SECRET"] == secret


# --- TLS, logs and limits on the command line -----------------------------------------


def _certificates(folder: Path) -> Any:
    # The certificate maker of the gateway tests, shared rather than copied.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
    from tls_support import make_certificates

    return make_certificates(folder)


def test_with_a_certificate_it_serves_wss(tmp_path: Path) -> None:
    certificates = _certificates(tmp_path / "tls")
    args = ["--tls-cert", str(certificates.cert), "--tls-key", str(certificates.key)]
    with GatewayProcess(*args) as gateway:
        assert gateway.url.startswith("wss://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(certificates.ca))
        connection = http.client.HTTPSConnection(
            "127.0.0.1", gateway.port, timeout=DEADLINE, context=context
        )
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert (response.status, response.read().strip()) == (200, b"ok")
        connection.close()
        assert gateway.stop() == 0


@pytest.mark.parametrize("names", [("missing.pem", "missing.key"), ("cert.pem", "cert.pem")])
def test_an_unusable_certificate_is_one_line_and_exit_1(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    cert, key = (str(tmp_path / name) for name in names)
    result = seller_notifier("gateway", "--port", "0", "--tls-cert", cert, "--tls-key", key)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"seller-notifier: cannot use the TLS certificate {cert}")


@pytest.mark.parametrize(
    "args",
    [
        ["--tls-cert", "a.pem"],
        ["--db", "x.sqlite3", "--redis", "redis://127.0.0.1:1/0"],
        ["--retain-age", "soon"],
        ["--max-connections-per-ip", "0"],
        ["--frame-rate", "-1"],
        ["--log-format", "xml"],
    ],
)
def test_bad_security_and_storage_arguments_exit_2(args: list[str]) -> None:
    result = seller_notifier("gateway", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_json_logs_are_one_object_per_line() -> None:
    with GatewayProcess("--log-format", "json") as gateway:
        asyncio.run(first_events(gateway.url, device_token(DEMO_WALLET), 0, since=None))
        gateway.wait_for(lambda line: "device connected" in line)
        assert gateway.stop() == 0
    logged = [json.loads(line) for line in gateway.stderr if line.startswith("{")]
    connected = next(entry for entry in logged if entry["msg"] == "device connected")
    assert connected["wallet"] == DEMO_WALLET
    assert connected["level"] == "info" and connected["logger"] == "seller_notifier.gateway"


def test_metrics_are_served_on_the_gateway_port(gateway_process: GatewayProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway_process.port, timeout=DEADLINE)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    body = response.read().decode()
    assert response.status == 200
    assert 'seller_notifier_connections{role="seller"} 0.0' in body
    connection.close()
    assert gateway_process.stop() == 0
