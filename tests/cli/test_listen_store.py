"""``listen --store FILE``: a store that cannot be used is one line and exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


def test_a_file_that_is_not_a_store_is_refused_in_one_line(tmp_path: Path) -> None:
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("shopping list: mugs, more mugs\n" * 100)

    result = subprocess.run(
        [sys.executable, "-m", "app", "listen", "--server", "ws://127.0.0.1:9",
         "--wallet", WALLET, "--token", "t", "--store", str(not_a_store)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("seller-notifier: ") and str(not_a_store) in line
