"""The gateway under load, each figure against a baseline measured in the same run.

* fan-out: deliveries/s of one wallet's events to N device connections, against a
  bare websockets ``broadcast()`` loop over N connections (SQLite bus, Redis bus);
* latency: publish → client at 1,000 events/s over 1,000 connections (one device per
  wallet), p50 and p99; with Redis the publisher talks to node A and the devices to
  node B, the scale-out path;
* memory per idle connection at 5,000 connections, against a bare websockets server;
* Redis bus throughput (pipelined publishes/s) against the SQLite bus.

Everything runs on loopback. The clients run in a separate process (``python -m
bench.bench_gateway CLIENT-MODE …``) so that they do not share the gateway's core;
they count frames from the raw socket instead of parsing them, so the figure is
the server's. Redis figures need ``redis-server`` (Debian package redis-server)
and are left out without it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from bench.figures import Figure, Goal

ROOT: Final = Path(__file__).resolve().parent.parent
WALLET: Final = "0x52908400098527886E0F7030069857D2E4169EE7"
DEADLINE: Final = 120.0


def run(quick: bool) -> list[Figure]:
    """The figures (``quick``: far fewer connections, events and runs)."""
    _raise_fd_limit()
    return asyncio.run(_run(quick))


async def _run(quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        work = Path(folder)
        redis = _RedisServer(work / "redis") if shutil.which("redis-server") else None
        if redis is not None:
            redis.start()
        try:
            figures += await _fan_out(work, redis, quick)
            figures += await _latency(work, redis, quick)
            figures += await _memory(work, quick)
            if redis is not None:
                figures += await _bus_throughput(work, redis, quick)
        finally:
            if redis is not None:
                redis.stop()
    return figures


# --- fan-out ---------------------------------------------------------------------------


async def _fan_out(work: Path, redis: _RedisServer | None, quick: bool) -> list[Figure]:
    connections, events, rounds = (200, 20, 2) if quick else (1000, 100, 3)
    frame = _sample_frame()

    bare: list[float] = []
    async with _bare_server() as (url, server):
        async with _Clients("fanout", url, None, connections) as clients:
            for _ in range(rounds):
                started = time.monotonic_ns()
                for _ in range(events):
                    _broadcast(server.connections, frame)
                finished = await clients.round(events)
                bare.append(connections * events / ((finished - started) / 1e9))

    figures = []
    backends: list[tuple[str, Callable[[], Awaitable[Any]], float]] = [
        ("SQLite", lambda: _sqlite_log(work / "fanout.sqlite3"), 0.5)
    ]
    if redis is not None:
        backends.append(("Redis", lambda: _redis_log(redis.url, "fanout"), 0.35))
    for name, open_log, goal in backends:
        ours: list[float] = []
        async with _gateway(await open_log()) as (gateway, token):
            async with _Clients("fanout", gateway.url, token, connections) as clients:
                for _ in range(rounds):
                    started = time.monotonic_ns()
                    publishes = (gateway.publish(WALLET, _order(n)) for n in range(events))
                    await asyncio.gather(*publishes)
                    finished = await clients.round(events)
                    ours.append(connections * events / ((finished - started) / 1e9))
        figures.append(
            Figure(
                name=f"fan-out to {connections} connections, {name} bus",
                unit="deliveries/s",
                ours=ours,
                baseline=bare,
                baseline_name="bare websockets broadcast()",
                goals=[Goal("min_ratio", goal)],
                note=(
                    f"{events} events of one wallet published at once, each delivered to "
                    f"{connections} devices; ours includes making each event durable."
                ),
            )
        )
    return figures


def _broadcast(connections: Any, frame: str) -> None:
    from websockets.asyncio.server import broadcast

    broadcast(connections, frame)


# --- latency ---------------------------------------------------------------------------


async def _latency(work: Path, redis: _RedisServer | None, quick: bool) -> list[Figure]:
    connections, seconds, runs = (200, 1.0, 1) if quick else (1000, 3.0, 3)
    rate = 1000
    figures: list[Figure] = []
    setups: list[tuple[str, Callable[[], Awaitable[Any]], float]] = [
        ("SQLite", lambda: _sqlite_log(work / "latency.sqlite3"), 10.0)
    ]
    if redis is not None:
        # Both nodes share one key prefix: one log, as behind a load balancer.
        shared = f"latency-{secrets.token_hex(4)}"
        setups.append(("Redis, across two nodes", lambda: _redis_log(redis.url, shared), 15.0))
    for name, open_log, p99_goal in setups:
        p50s, p99s = [], []
        async with _gateway(await open_log()) as (node_a, _):
            if name.startswith("Redis"):
                second = _gateway(await open_log(), secrets_of=node_a)
            else:
                second = _same(node_a)
            async with second as (node_b, _):
                tokens = [_token(node_a, _wallet(i)) for i in range(connections)]
                for _ in range(runs):
                    result = await _latency_clients(
                        node_a.url, node_b.url, node_a.config.secrets.publish_key,
                        tokens, rate, seconds,
                    )  # fmt: skip
                    p50s.append(result["p50"])
                    p99s.append(result["p99"])
        for label, samples, goal in (("p50", p50s, 2.0), ("p99", p99s, p99_goal)):
            figures.append(
                Figure(
                    name=f"publish → client {label}, {name}",
                    unit="ms",
                    ours=samples,
                    goals=[Goal("max", goal)],
                    note=(
                        f"{rate} events/s for {seconds:g} s spread over {connections} wallets, "
                        "one device each; from the publisher's send to the device's receipt."
                    ),
                )
            )
    return figures


async def _latency_clients(
    publish_url: str, device_url: str, key: str, tokens: list[str], rate: int, seconds: float
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"tokens": tokens, "key": key}, handle)
        spec = handle.name
    try:
        process = await _driver(
            "latency", device_url, spec, publish_url, str(rate), str(seconds)
        )
        output = await _read_line(process)
        await _finish(process)
        result: dict[str, float] = json.loads(output)
        return result
    finally:
        os.unlink(spec)


# --- memory ----------------------------------------------------------------------------


async def _memory(work: Path, quick: bool) -> list[Figure]:
    connections = 500 if quick else 5000
    per: dict[str, float] = {}
    for kind in ("bare", "gateway"):
        server = await _driver("memory-server", kind, str(work / f"memory-{kind}"))
        url, token = (await _read_line(server)).split()
        before = await _ask(server, "rss")
        async with _Clients("idle", url, None if token == "-" else token, connections):
            after = await _ask(server, "rss")
        server.stdin.close()  # type: ignore[union-attr]
        await _finish(server)
        per[kind] = (after - before) / connections / 1024
    return [
        Figure(
            name=f"memory per idle connection ({connections} connections)",
            unit="KiB",
            ours=[per["gateway"]],
            baseline=[per["bare"]],
            baseline_name="bare websockets server",
            goals=[Goal("max_ratio", 1.5), Goal("max", 30.0)],
            note="Growth of the server's resident memory while the connections are "
            "open and authenticated, divided by their number.",
        )
    ]


async def _ask(process: asyncio.subprocess.Process, command: str) -> float:
    assert process.stdin is not None
    process.stdin.write(command.encode() + b"\n")
    await process.stdin.drain()
    return float(await _read_line(process))


# --- bus throughput ---------------------------------------------------------------------


async def _bus_throughput(work: Path, redis: _RedisServer, quick: bool) -> list[Figure]:
    from app.client.publisher import Publisher

    count, runs = (1000, 2) if quick else (5000, 3)
    rates: dict[str, list[float]] = {"SQLite": [], "Redis": []}
    for name in rates:
        log = (
            await _sqlite_log(work / "throughput.sqlite3")
            if name == "SQLite"
            else await _redis_log(redis.url, "throughput")
        )
        async with _gateway(log) as (gateway, _):
            async with Publisher(gateway.url, gateway.config.secrets.publish_key) as publisher:
                for run_number in range(runs):
                    items = [
                        (_wallet(n % 100), _order(n), f"r{run_number}-{n}") for n in range(count)
                    ]
                    started = time.perf_counter()
                    results = await publisher.publish_many(items)
                    rates[name].append(count / (time.perf_counter() - started))
                    assert len(results) == count
    return [
        Figure(
            name="pipelined publishes/s, Redis bus",
            unit="events/s",
            ours=rates["Redis"],
            baseline=rates["SQLite"],
            baseline_name="SQLite bus",
            goals=[Goal("min_ratio", 0.7)],
            note=f"{count} events over 100 wallets through one publisher connection "
            "(500 in flight); Redis with appendfsync everysec, SQLite with synchronous=FULL.",
        )
    ]


# --- the pieces ---------------------------------------------------------------------------


def _order(n: int) -> Any:
    from app.protocol import NewOrder

    return NewOrder(order_id=f"ORD-{n}", total="19.90", currency="USD", buyer="Ada L.")


def _sample_frame() -> str:
    from datetime import UTC, datetime

    from app.protocol import EventFrame, encode_frame

    return encode_frame(
        EventFrame.model_construct(
            wallet=WALLET, seq=1234, id="5f0c2a9e8b7d4c3a9e8b7d4c3a9e8b7d", ts=datetime.now(UTC),
            event=_order(1234),
        )
    )  # fmt: skip


def _wallet(n: int) -> str:
    from app.protocol import normalize_wallet

    return normalize_wallet(f"0x{n + 1:040x}")


def _token(gateway: Any, wallet: str) -> str:
    from app.gateway.tokens import issue_token

    return issue_token(gateway.config.secrets.token_secret, wallet, timedelta(hours=1))


async def _sqlite_log(path: Path) -> Any:
    from app.gateway.bus.sqlite import SqliteEventLog

    path.unlink(missing_ok=True)
    return SqliteEventLog(path)


async def _redis_log(url: str, prefix: str) -> Any:
    from app.gateway.bus.redis import RedisEventLog

    log = RedisEventLog(url, prefix=f"bench-{prefix}:")
    await log.connect()
    return log


@asynccontextmanager
async def _gateway(log: Any, secrets_of: Any = None) -> AsyncIterator[tuple[Any, str]]:
    """A gateway with limits wide enough for the load (one machine opens everything)."""
    from app.config.secrets import GatewaySecrets
    from app.gateway.server import Gateway, GatewayConfig

    keys = (
        secrets_of.config.secrets
        if secrets_of is not None
        else GatewaySecrets(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    )
    config = GatewayConfig(
        secrets=keys, port=0, heartbeat=600, max_connections_per_ip=100_000,
        max_connections_per_wallet=100_000, frame_rate=1_000_000, frame_burst=1_000_000,
        handshake_timeout=60,
    )  # fmt: skip
    gateway = Gateway(config, log)
    await gateway.start()
    try:
        yield gateway, _token(gateway, WALLET)
    finally:
        await gateway.close()


@asynccontextmanager
async def _same(gateway: Any) -> AsyncIterator[tuple[Any, str]]:
    yield gateway, ""


@asynccontextmanager
async def _bare_server() -> AsyncIterator[tuple[str, Any]]:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, compression=None, open_timeout=60
    ) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}", server


class _Clients:
    """The client process: ``connections`` devices (or bare connections without a token)."""

    def __init__(self, mode: str, url: str, token: str | None, connections: int) -> None:
        self._args = (mode, url, token or "-", str(connections))
        self._process: asyncio.subprocess.Process | None = None
        self._frames = 0

    async def __aenter__(self) -> _Clients:
        self._process = await _driver(*self._args)
        assert await _read_line(self._process) == "ready"
        return self

    async def round(self, frames: int) -> int:
        """Wait until every connection has ``frames`` more frames; returns when the last
        one arrived (``time.monotonic_ns``, the same clock in both processes)."""
        assert self._process is not None and self._process.stdin is not None
        self._frames += frames
        self._process.stdin.write(f"{self._frames}\n".encode())
        await self._process.stdin.drain()
        return int(await _read_line(self._process))

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        await _finish(self._process)


async def _driver(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_gateway", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


async def _read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), DEADLINE)
    if not line:
        raise RuntimeError(f"the benchmark's helper process exited ({await process.wait()})")
    return line.decode().strip()


async def _finish(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), DEADLINE)
    except TimeoutError:
        process.kill()
        await process.wait()


class _RedisServer:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.folder),
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as ping:
                    ping.sendall(b"PING\r\n")
                    if ping.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)  # polling a process we started, in setup: not a measurement

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(timeout=30)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the helper process ---------------------------------------------------------------------


class _FrameCounter(asyncio.Protocol):
    """Counts the server's WebSocket frames on a raw socket (no parsing of their text)."""

    def __init__(self, wanted: Callable[[bytes], None] | None = None) -> None:
        self.frames = 0
        self.last_ns = 0
        """When the last text frame arrived (``time.monotonic_ns``)."""
        self.changed = asyncio.Event()
        self._buffer = bytearray()
        self._payloads = wanted

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        position, end = 0, len(buffer)
        while end - position >= 2:
            length = buffer[position + 1] & 0x7F
            header = 2
            if length == 126:
                if end - position < 4:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
                header = 4
            elif length == 127:
                if end - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                header = 10
            if end - position < header + length:
                break
            if buffer[position] & 0x0F == 1:  # a text frame
                self.frames += 1
                self.last_ns = time.monotonic_ns()
                if self._payloads is not None:
                    start = position + header
                    self._payloads(bytes(buffer[start : start + length]))
            position += header + length
        del buffer[:position]
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.changed.set()


async def _open(url: str, token: str | None, wanted: Callable[[bytes], None] | None = None) -> Any:
    """A connection (authenticated with ``token``) whose socket then feeds a counter."""
    from websockets.asyncio.client import connect

    from app.protocol import Auth, encode_frame

    ws = await connect(url, compression=None, ping_interval=None, open_timeout=60,
                       max_size=2**20)  # fmt: skip
    if token is not None:
        await ws.recv()  # hello
        await ws.send(encode_frame(Auth(token=token)))
        answer = await ws.recv()
        if '"type":"ok"' not in str(answer):
            raise RuntimeError(f"the gateway refused a benchmark connection: {answer!r}")
    counter = _FrameCounter(wanted)
    ws.transport.set_protocol(counter)
    return ws, counter


async def _open_all(url: str, tokens: list[str | None]) -> list[Any]:
    opened: list[Any] = []
    for start in range(0, len(tokens), 200):
        opened += await asyncio.gather(*(_open(url, t) for t in tokens[start : start + 200]))
    return opened


async def _client_main(args: list[str]) -> None:
    mode, url, token, count = args[0], args[1], args[2], int(args[3])
    opened = await _open_all(url, [None if token == "-" else token] * count)
    counters = [counter for _, counter in opened]
    _say("ready")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if mode != "fanout":
            continue
        target = int(line)
        for counter in counters:
            while counter.frames < target:
                counter.changed.clear()
                await counter.changed.wait()
        _say(str(max(counter.last_ns for counter in counters)))
    for ws, _ in opened:
        ws.transport.abort()


async def _latency_main(args: list[str]) -> None:
    device_url, spec_path, publish_url, rate, seconds = (
        args[0], args[1], args[2], int(args[3]), float(args[4])
    )  # fmt: skip
    spec = json.loads(Path(spec_path).read_text())
    latencies: list[float] = []

    def received(payload: bytes) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "event":
            sent = int(frame["id"].split("-", 1)[1])
            latencies.append((time.monotonic_ns() - sent) / 1e6)

    devices = []
    for start in range(0, len(spec["tokens"]), 200):
        devices += await asyncio.gather(
            *(_open(device_url, t, received) for t in spec["tokens"][start : start + 200])
        )
    from websockets.asyncio.client import connect

    from app.protocol import NewOrder, PublisherAuth, encode_frame

    wallets = [_wallet(i) for i in range(len(spec["tokens"]))]
    async with connect(publish_url, compression=None, ping_interval=None) as publisher:
        await publisher.recv()
        await publisher.send(encode_frame(PublisherAuth(key=spec["key"])))
        await publisher.recv()
        acks = asyncio.create_task(_drain(publisher))
        total = int(rate * seconds)
        event = json.loads(
            encode_frame(NewOrder(order_id="ORD-1", total="19.90", currency="USD"))
        )
        started = time.monotonic()
        for n in range(total):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the publisher at its rate
            frame = {"type": "publish", "wallet": wallets[n % len(wallets)],
                     "id": f"{n}-{time.monotonic_ns()}", "event": event}  # fmt: skip
            await publisher.send(json.dumps(frame))
        deadline = time.monotonic() + 30
        while len(latencies) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # the last deliveries, bounded
        acks.cancel()
    for ws, _ in devices:
        ws.transport.abort()
    ordered = sorted(latencies)
    result = {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "received": len(ordered),
        "sent": total,
    }
    _say(json.dumps(result))


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


async def _memory_server_main(args: list[str]) -> None:
    kind, folder = args[0], Path(args[1])
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def serve_commands() -> None:
        while line := await reader.readline():
            if line.strip() == b"rss":
                gc.collect()
                _say(str(_rss()))

    if kind == "bare":
        async with _bare_server() as (url, _):
            # Warm up: the first connections allocate pools both servers keep.
            await _warm_up(url, None)
            _say(f"{url} -")
            await serve_commands()
    else:
        async with _gateway(await _sqlite_log(folder / "memory.sqlite3")) as (gateway, token):
            await _warm_up(gateway.url, token)
            _say(f"{gateway.url} {token}")
            await serve_commands()


async def _warm_up(url: str, token: str | None) -> None:
    opened = await _open_all(url, [token] * 50)
    for ws, _ in opened:
        ws.transport.abort()
    await asyncio.sleep(0.2)  # let the server notice the closes before measuring


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _helper(argv: list[str]) -> int:
    _raise_fd_limit()
    mode, rest = argv[0], argv[1:]
    if mode in ("fanout", "idle"):
        asyncio.run(_client_main([mode, *rest]))
    elif mode == "latency":
        asyncio.run(_latency_main(rest))
    elif mode == "memory-server":
        asyncio.run(_memory_server_main(rest))
    else:
        print(f"bench_gateway: unknown helper mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_helper(sys.argv[1:]))
