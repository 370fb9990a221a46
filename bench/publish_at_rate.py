"""Run as a process: publish N events at a steady rate, each stamped with its send time.

``python -m bench.publish_at_rate URL KEY WALLET COUNT RATE``. The stamp
(``benchSentNs``, time.monotonic_ns — one clock for every process on Linux) rides
as an extra field of the event, which the protocol keeps.
"""

from __future__ import annotations

import asyncio
import sys
import time
from decimal import Decimal

from app.client.publisher import Publisher
from app.protocol import NewOrder


async def main(url: str, key: str, wallet: str, count: int, rate: float) -> None:
    interval = 1.0 / rate if rate > 0 else 0.0
    async with Publisher(url, key) as publisher:
        started = time.monotonic()
        pending: set[asyncio.Task[object]] = set()
        for index in range(count):
            if interval:
                delay = started + index * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            event = NewOrder.model_validate(
                {
                    "orderId": f"B-{index}",
                    "total": Decimal("10.00"),
                    "currency": "USD",
                    "benchSentNs": time.monotonic_ns(),
                }
            )
            task = asyncio.create_task(publisher.publish(wallet, event))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)


if __name__ == "__main__":
    url, key, wallet, count, rate = sys.argv[1:6]
    asyncio.run(main(url, key, wallet, int(count), float(rate)))
