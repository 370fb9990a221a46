"""Start-up milestones for benchmarks and packagers.

With ``SELLER_NOTIFIER_STARTUP_TRACE=1`` each milestone prints
``startup-trace <name> <unix time>`` on stderr, so a parent process can measure
"process start → tray icon shown" without polling the screen. Off by default.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "SELLER_NOTIFIER_STARTUP_TRACE"


def mark(milestone: str) -> None:
    if os.environ.get(ENV):
        print(f"startup-trace {milestone} {time.time():.6f}", file=sys.stderr, flush=True)
