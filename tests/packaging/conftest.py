"""Fixtures for the packaging tests.

Most tests here check the build scripts in ``packaging_tools`` on small inputs
and run with the ordinary suite.  Tests marked ``package`` build the real
bundle and .deb, install it with apt and run it: they are skipped unless
``SELLER_NOTIFIER_PACKAGE_TEST=1`` (CI runs them as a step of their own, as
root on a Debian/Ubuntu machine).  Their size and start-up figures are printed
in the terminal summary.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
# packaging_tools lives at the repository root, next to app/ (never installed).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGE_TEST_ENV = "SELLER_NOTIFIER_PACKAGE_TEST"
FIGURES = pytest.StashKey[dict[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "package: builds and installs the real .deb (root; set SELLER_NOTIFIER_PACKAGE_TEST=1)",
    )
    config.stash[FIGURES] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(PACKAGE_TEST_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"packaging test: set {PACKAGE_TEST_ENV}=1 to run it")
    for item in items:
        if item.get_closest_marker("package") is not None:
            item.add_marker(skip)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    figures = config.stash.get(FIGURES, {})
    if figures:
        terminalreporter.section("packaging figures")
        for name, value in figures.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, str]:
    """Figures (name -> text) to print in the terminal summary."""
    return request.config.stash[FIGURES]
