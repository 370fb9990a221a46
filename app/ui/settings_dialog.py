"""The Settings window; it lives in :mod:`app.ui.settings` (this name is kept for imports)."""

from app.ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
