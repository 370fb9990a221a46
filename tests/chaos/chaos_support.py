"""Chaos tooling: a gateway process to kill, a TCP proxy that can play dead, deadlines.

Everything runs on 127.0.0.1 with ports chosen by the kernel; every wait has a
deadline; randomness is seeded by the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from app.client import ConnectionStatus, SellerClient

T = TypeVar("T")
DEADLINE = 20.0
"""Seconds any single awaited condition may take before the test fails."""
ROOT = Path(__file__).resolve().parents[2]


async def within(awaitable: Awaitable[T], what: str, deadline: float = DEADLINE) -> T:
    """Await with a deadline; the failure names what did not happen."""
    try:
        return await asyncio.wait_for(awaitable, deadline)
    except TimeoutError:
        pytest.fail(f"timed out after {deadline:g} s waiting for {what}")


async def status_where(
    client: SellerClient, predicate: Callable[[ConnectionStatus], bool], what: str
) -> ConnectionStatus:
    """The first status (the current one included) that satisfies ``predicate``."""
    if predicate(client.status):
        return client.status
    found: asyncio.Future[ConnectionStatus] = asyncio.get_running_loop().create_future()

    def check(status: ConnectionStatus) -> None:
        if predicate(status) and not found.done():
            found.set_result(status)

    unsubscribe = client.on_status(check)
    try:
        return await within(found, what)
    finally:
        unsubscribe()


class Counter:
    """Counts what arrives and wakes whoever waits for a total."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._changed = asyncio.Event()

    def add(self, item: object) -> None:
        self.items.append(item)
        self._changed.set()

    async def reach(self, count: int, what: str, deadline: float = DEADLINE) -> None:
        async def enough() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await within(enough(), f"{count} {what} (have {len(self.items)})", deadline)


# --- a gateway process ------------------------------------------------------------------


class GatewayProcess:
    """``python -m app gateway`` on 127.0.0.1 over one SQLite log, started and killed at will.

    The first start picks a free port; restarts reuse it, so clients find it again.
    """

    def __init__(self, db: Path, *, heartbeat: float = 0.5) -> None:
        self.db = db
        self.heartbeat = heartbeat
        self.port = 0
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.log: list[str] = []
        self.up = asyncio.Event()
        """Set while a started process accepts connections."""

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "gateway",
            "--port", str(self.port), "--db", str(self.db),
            "--heartbeat", str(self.heartbeat),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )  # fmt: skip
        self._process = process
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(process, listening))
        port = await within(listening, "the gateway process to listen")
        self.port = port
        self.starts += 1
        self.up.set()

    async def _read(
        self, process: asyncio.subprocess.Process, listening: asyncio.Future[int]
    ) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            marker = "seller-notifier gateway listening on ws://127.0.0.1:"
            if line.startswith(marker) and not listening.done():
                listening.set_result(int(line.removeprefix(marker)))
        if not listening.done():
            listening.set_exception(RuntimeError("the gateway exited:\n" + "\n".join(self.log)))

    async def kill(self) -> None:
        """SIGKILL: no goodbye, no flush; only what was committed survives."""
        self.up.clear()
        await self._end(signal.SIGKILL)

    async def stop(self) -> int:
        """SIGTERM: the graceful way; returns the exit code."""
        self.up.clear()
        return await self._end(signal.SIGTERM)

    async def _end(self, signum: int) -> int:
        process, self._process = self._process, None
        if process is None:
            return 0
        if process.returncode is None:
            process.send_signal(signum)
        code = await within(process.wait(), "the gateway process to end")
        if self._reader is not None:
            await within(self._reader, "the gateway's output to end")
        return code


# --- a TCP proxy that can play dead -------------------------------------------------------


class BlackholeProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``; :meth:`blackhole` freezes every
    connection open at that moment, in both directions, without closing anything.

    That is a half-open link: the sockets stay up, bytes go nowhere, nobody is
    told. Connections made after the blackhole are forwarded normally (a fresh path).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._pipes: list[_Pipe] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def blackhole(self) -> None:
        for pipe in self._pipes:
            pipe.frozen = True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pipe in self._pipes:
            pipe.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.close()
            return
        pipe = _Pipe(writer, upstream_writer)
        self._pipes.append(pipe)
        await asyncio.gather(
            pipe.copy(reader, upstream_writer),
            pipe.copy(upstream_reader, writer),
            return_exceptions=True,
        )
        pipe.close()


class _Pipe:
    def __init__(self, *writers: asyncio.StreamWriter) -> None:
        self.frozen = False
        self._writers = writers
        self._tasks: list[asyncio.Future[None]] = []

    async def copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if self.frozen:
                # Swallowed: neither end learns anything, as with a dead NAT entry.
                continue
            writer.write(data)
            await writer.drain()
        if not self.frozen:
            with contextlib.suppress(OSError):
                writer.write_eof()

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


def python_env() -> dict[str, str]:
    """The environment for a child process: this test's home, no display."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env
