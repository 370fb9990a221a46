"""The tray app's local SQLite store. No Qt."""

from app.store.errors import StoreError
from app.store.events import ClientStore
from app.store.history import StoredNotice
from app.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "ClientStore", "StoreError", "StoredNotice"]
