"""The store's one exception."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says why, for a person."""
