"""A real ``redis-server`` for one test: a free loopback port, its files in tmp_path,
started and stopped by PID (the Debian package redis-server; CI installs it)."""

from __future__ import annotations

import queue
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

READY = "Ready to accept connections"
DEADLINE = 20.0


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisProcess:
    """``redis-server`` on 127.0.0.1:``port`` with its data in ``folder``.

    ``durable``: append-only file with an fsync per write (survives ``kill -9``);
    otherwise nothing is persisted. :meth:`stop` and :meth:`start` can be repeated
    on the same port and folder, as a restarted server would be.
    """

    def __init__(self, folder: Path, *, durable: bool = False) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.binary = binary
        self.folder = folder
        self.durable = durable
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.durable
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--save", "", *persistence,
                "--daemonize", "no", "--logfile", "", "--loglevel", "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self._lines = queue.Queue()
        threading.Thread(target=self._drain, args=(self.process, self._lines), daemon=True).start()
        seen: list[str] = []
        while True:
            line = self._lines.get(timeout=DEADLINE)
            if line is None:
                raise RuntimeError("redis-server exited:\n" + "".join(seen))
            seen.append(line)
            if READY in line:
                return

    def stop(self, signum: int = signal.SIGTERM) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            process.send_signal(signum)
        process.wait(timeout=DEADLINE)

    @staticmethod
    def _drain(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)
        process.stdout.close()
