"""The end-to-end tests' desktop session (Xvfb + trayer), reused by the benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

_E2E = Path(__file__).resolve().parent.parent / "tests" / "e2e"
if str(_E2E) not in sys.path:
    sys.path.insert(0, str(_E2E))

from desktop_session import DesktopSession, missing_programs  # noqa: E402

__all__ = ["DesktopSession", "missing_programs"]
