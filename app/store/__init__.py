"""The tray app's local SQLite store. No Qt."""

from app.store.events import SCHEMA_VERSION, ClientStore, StoreError

__all__ = ["SCHEMA_VERSION", "ClientStore", "StoreError"]
