"""Run as a process: the tray app's receiving path, measuring what its Qt side sees.

``python -m bench.qt_receiver URL TOKEN COUNT MODE`` — a SellerClient with the real
ClientStore, under qasync, delivering through the ClientBridge's Qt signal (the
tray app's path up to its handlers). Prints ``ready`` once connected, then one
JSON object with the measurements once COUNT events arrived.

MODE ``latency``: per event, now − the publisher's ``benchSentNs`` stamp (ms).
MODE ``burst``: connects with ``since=0`` to a log that already holds COUNT events,
so the gateway replays them back to back; reports the worst lag of a 10 ms QTimer
ticker while they arrive, and the time from the first to the last event (ms).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync  # noqa: E402
from PySide6.QtCore import QObject, QTimer, Slot  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.client import ConnectionState, SellerClient  # noqa: E402
from app.client.status import ConnectionStatus  # noqa: E402
from app.protocol import EventFrame  # noqa: E402
from app.store.events import ClientStore  # noqa: E402
from app.ui.bridge import ClientBridge  # noqa: E402


class Recorder(QObject):
    def __init__(self, count: int, done: asyncio.Future[None]) -> None:
        super().__init__()
        self.count = count
        self.done = done
        self.latencies_ms: list[float] = []
        self.first_ns = 0
        self.last_ns = 0

    @Slot(object)
    def on_event(self, frame: EventFrame) -> None:
        now = time.monotonic_ns()
        if not self.latencies_ms:
            self.first_ns = now
        self.last_ns = now
        sent = (frame.event.model_extra or {}).get("benchSentNs")
        if isinstance(sent, int):
            self.latencies_ms.append((now - sent) / 1e6)
        self.received = getattr(self, "received", 0) + 1
        if self.received >= self.count and not self.done.done():
            self.done.set_result(None)


class Ticker(QObject):
    """A 10 ms timer; its worst lateness is the event loop's worst stall."""

    def __init__(self) -> None:
        super().__init__()
        self.worst_ms = 0.0
        self._expected = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._expected = time.monotonic() + 0.010
        self._timer.start()

    @Slot()
    def _tick(self) -> None:
        now = time.monotonic()
        self.worst_ms = max(self.worst_ms, (now - self._expected) * 1000)
        self._expected = now + 0.010


async def main(url: str, token: str, count: int, mode: str) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    connected: asyncio.Future[None] = loop.create_future()
    done: asyncio.Future[None] = loop.create_future()
    with tempfile.TemporaryDirectory(prefix="bench-rx-") as directory:
        store = ClientStore(Path(directory) / "client.sqlite3")
        client = SellerClient(url, token, store=store, since=0 if mode == "burst" else None)
        bridge = ClientBridge(client)
        recorder = Recorder(count, done)
        bridge.event_received.connect(recorder.on_event)
        ticker = Ticker()

        def on_status(status: ConnectionStatus) -> None:
            if status.state is ConnectionState.CONNECTED and not connected.done():
                connected.set_result(None)

        client.on_status(on_status)
        if mode == "burst":
            ticker.start()
        task = asyncio.create_task(client.run())
        await asyncio.wait_for(connected, 30)
        print("ready", flush=True)
        await asyncio.wait_for(done, 120)
        await client.stop()
        await asyncio.gather(task, return_exceptions=True)
        bridge.close()
        store.close()
    return {
        "latencies_ms": recorder.latencies_ms,
        "worst_lag_ms": ticker.worst_ms,
        "drain_ms": (recorder.last_ns - recorder.first_ns) / 1e6,
    }


if __name__ == "__main__":
    url, token, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    app = QApplication([])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        result = runner.run(main(url, token, count, mode))
    print(json.dumps(result), flush=True)
