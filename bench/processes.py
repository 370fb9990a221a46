"""Processes the benchmarks start: the real gateway, a publisher, baselines. Loopback only."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


@dataclass
class GatewayProcess:
    url: str
    secret: str
    publish_key: str
    process: subprocess.Popen[bytes]
    home: Path

    def token(self, wallet: str = WALLET) -> str:
        from datetime import timedelta

        from app.gateway.tokens import issue_token

        return issue_token(self.secret, wallet, timedelta(days=1))

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SELLER_NOTIFIER_HOME": str(self.home),
            "SELLER_NOTIFIER_SECRET": self.secret,
            "SELLER_NOTIFIER_PUBLISH_KEY": self.publish_key,
        }


def wait_for_line(stream_path: Path, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    compiled = re.compile(pattern)
    while time.monotonic() < deadline:
        if stream_path.exists():
            match = compiled.search(stream_path.read_text(errors="replace"))
            if match:
                return match
        time.sleep(0.01)
    raise TimeoutError(f"no line matching {pattern!r} in {stream_path} after {timeout} s")


@contextmanager
def gateway(extra_args: tuple[str, ...] = ()) -> Iterator[GatewayProcess]:
    """The real `seller-notifier gateway` on 127.0.0.1:0 with its own home and secrets."""
    with tempfile.TemporaryDirectory(prefix="bench-gw-") as directory:
        home = Path(directory)
        secret, key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "SELLER_NOTIFIER_HOME": str(home),
            "SELLER_NOTIFIER_SECRET": secret,
            "SELLER_NOTIFIER_PUBLISH_KEY": key,
        }
        stderr_path = home / "gateway.err"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", "gateway", "--port", "0", *extra_args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=ROOT,
            )
            try:
                match = wait_for_line(stderr_path, r"gateway listening on (ws://\S+)", 30)
                yield GatewayProcess(match.group(1), secret, key, process, home)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
