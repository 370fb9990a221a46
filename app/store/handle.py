"""What every store object over one SQLite connection shares: closing it, once."""

from __future__ import annotations

import sqlite3
from types import TracebackType
from typing import Self


class SqliteHandle:
    """Holds ``_db``; ``close()`` is idempotent and ``with`` closes on exit."""

    _db: sqlite3.Connection | None

    def close(self) -> None:
        """Close the database; further calls raise :class:`StoreError`. Idempotent."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
