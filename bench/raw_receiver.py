"""Run as a process: the baselines — bare websockets, no app code.

``python -m bench.raw_receiver echo COUNT RATE``: round trips to a bare websockets
echo server (in this process' own thread-free loop, over loopback) at RATE/s;
prints the round-trip times (ms) as JSON.

``python -m bench.raw_receiver burst URL TOKEN COUNT``: a bare receive loop on the
real gateway's replay of COUNT events; prints the worst lag of a 10 ms asyncio
ticker and the time from the first to the last frame (ms).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

FRAME = json.dumps(
    {
        "type": "event",
        "seq": 1,
        "id": "x",
        "event": {"type": "new_order", "orderId": "B-1", "total": "10.00", "currency": "USD"},
    }
)


async def echo(count: int, rate: float) -> dict[str, object]:
    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            rtts: list[float] = []
            start = time.monotonic()
            for index in range(count):
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.monotonic_ns()
                await ws.send(FRAME)
                await ws.recv()
                rtts.append((time.monotonic_ns() - sent) / 1e6)
    return {"latencies_ms": rtts}


async def burst(url: str, token: str, count: int) -> dict[str, object]:
    """A bare receive loop on the real gateway's replay of COUNT events."""
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        expected = time.monotonic() + 0.010
        while True:
            await asyncio.sleep(0.010)
            now = time.monotonic()
            worst = max(worst, (now - expected) * 1000)
            expected = now + 0.010

    tick = asyncio.create_task(ticker())
    first = last = 0
    received = 0
    async with connect(url, compression=None, max_size=2**16) as ws:
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "auth", "token": token, "since": 0}))
        while received < count:
            frame = json.loads(await ws.recv())
            if frame.get("type") != "event":
                continue
            last = time.monotonic_ns()
            if received == 0:
                first = last
            received += 1
    tick.cancel()
    return {"worst_lag_ms": worst, "drain_ms": (last - first) / 1e6}


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        result = asyncio.run(echo(int(sys.argv[2]), float(sys.argv[3])))
    else:
        result = asyncio.run(burst(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    print(json.dumps(result), flush=True)
