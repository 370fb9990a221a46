"""Orders to CSV: what the dashboard's "Export CSV…" writes."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from app.domain.folding import Order

CSV_COLUMNS: Final = (
    "order_id",
    "status",
    "placed_at",
    "updated_at",
    "buyer",
    "items",
    "total",
    "currency",
    "wallet",
)
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    # Marketplace text (buyer names, item names) must not become a spreadsheet formula.
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def order_row(order: Order) -> list[str]:
    """One CSV row: times in ISO 8601 UTC, the total as exact decimal text."""
    items = "; ".join(f"{item.quantity} x {item.name}" for item in order.items)
    return [
        _cell(order.order_id),
        _cell(order.status),
        order.placed_at.isoformat(),
        order.updated_at.isoformat(),
        _cell(order.buyer or ""),
        _cell(items),
        format(order.total, "f") if order.total is not None else "",
        order.currency or "",
        order.wallet,
    ]


def write_orders_csv(orders: Iterable[Order], path: Path) -> int:
    """Write ``orders`` to ``path`` (UTF-8, a header row first); returns the row count.

    Written to a temporary file and renamed, so an existing file is replaced whole
    or not at all. Raises ``OSError`` when the file cannot be written.
    """
    fd, temporary = tempfile.mkstemp(prefix=".orders-", suffix=".csv", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for order in orders:
                writer.writerow(order_row(order))
                count += 1
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
