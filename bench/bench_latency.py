"""End-to-end latency: publish → the tray app's Qt-side handler, at 1,000 events/s.

Three processes on loopback: the real gateway (SQLite log, every publish durable
before it is sent on), a publisher stamping each event, and the tray app's
receiving path (SellerClient + ClientStore + ClientBridge under qasync). Baseline:
a bare websockets echo round trip at the same rate, in the same run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from bench.figures import Figure, Goal
from bench.processes import ROOT, WALLET, gateway

RATE = 1000.0


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ours_once(count: int) -> list[float]:
    with gateway() as gw:
        receiver = subprocess.Popen(
            [sys.executable, "-m", "bench.qt_receiver", gw.url, gw.token(), str(count), "latency"],
            cwd=ROOT,
            env=gw.env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert receiver.stdout is not None
        if receiver.stdout.readline().strip() != "ready":
            receiver.kill()
            raise RuntimeError("the receiver did not connect")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.publish_at_rate",
                gw.url,
                gw.publish_key,
                WALLET,
                str(count),
                str(RATE),
            ],
            cwd=ROOT,
            env=gw.env(),
            check=True,
            timeout=120,
        )
        output, _ = receiver.communicate(timeout=120)
    latencies: list[float] = json.loads(output.strip().splitlines()[-1])["latencies_ms"]
    return latencies[count // 10 :]  # the first tenth warms caches and connections up


def echo_once(count: int) -> list[float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.raw_receiver", "echo", str(count), str(RATE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    rtts: list[float] = json.loads(output.strip().splitlines()[-1])["latencies_ms"]
    return rtts[count // 10 :]


def run(quick: bool) -> list[Figure]:
    count = 1000 if quick else 5000
    runs = 2 if quick else 3
    ours = [ours_once(count) for _ in range(runs)]
    base = [echo_once(count) for _ in range(runs)]
    note = (
        f"{count} events at {RATE:.0f}/s per run, {runs} runs; first 10 % dropped as warm-up. "
        "Baseline: bare websockets echo round trip at the same rate."
    )
    return [
        Figure(
            "end-to-end latency p50 (publish → Qt handler)",
            "ms",
            [statistics.median(r) for r in ours],
            [statistics.median(r) for r in base],
            "websockets echo RTT p50",
            [Goal("max", 2.0)],
            note,
        ),
        Figure(
            "end-to-end latency p99 (publish → Qt handler)",
            "ms",
            [percentile(r, 0.99) for r in ours],
            [percentile(r, 0.99) for r in base],
            "websockets echo RTT p99",
            [Goal("max", 10.0)],
        ),
    ]
