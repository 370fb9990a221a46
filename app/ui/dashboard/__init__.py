"""The dashboard window and its parts (models, cards, chart, activity, connection)."""

from app.ui.dashboard.window import DashboardWindow

__all__ = ["DashboardWindow"]
