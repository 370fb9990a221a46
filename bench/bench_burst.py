"""Burst: 1,000 events back to back into the tray app's receiving path.

The gateway replays 1,000 stored events to a client connecting with ``since=0``.
Ours: SellerClient + ClientStore + ClientBridge under qasync, with a 10 ms QTimer
ticker; baseline: a bare websockets receive loop with a 10 ms asyncio ticker, on
the same gateway and the same events, in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.figures import Figure, Goal
from bench.processes import ROOT, WALLET, gateway


def measure(count: int, runs: int) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    ours: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    with gateway() as gw:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.publish_at_rate",
                gw.url,
                gw.publish_key,
                WALLET,
                str(count),
                "0",
            ],
            cwd=ROOT,
            env=gw.env(),
            check=True,
            timeout=120,
        )
        for _ in range(runs):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.qt_receiver",
                    gw.url,
                    gw.token(),
                    str(count),
                    "burst",
                ],
                cwd=ROOT,
                env=gw.env(),
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
            ours.append(json.loads(out.strip().splitlines()[-1]))
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.raw_receiver",
                    "burst",
                    gw.url,
                    gw.token(),
                    str(count),
                ],
                cwd=ROOT,
                env=gw.env(),
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
            base.append(json.loads(out.strip().splitlines()[-1]))
    return ours, base


def run(quick: bool) -> list[Figure]:
    count = 1000
    ours, base = measure(count, 2 if quick else 5)
    note = f"{count} events replayed back to back; each run a fresh client and store."
    return [
        Figure(
            "burst: worst event-loop lag",
            "ms",
            [r["worst_lag_ms"] for r in ours],
            [r["worst_lag_ms"] for r in base],
            "bare websockets receive loop",
            [Goal("max", 50.0)],
            note,
        ),
        Figure(
            "burst: drain time (first → last event)",
            "ms",
            [r["drain_ms"] for r in ours],
            [r["drain_ms"] for r in base],
            "bare websockets receive loop",
            [Goal("max", 200.0)],
        ),
    ]
