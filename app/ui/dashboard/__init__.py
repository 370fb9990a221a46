"""The dashboard window and its parts (models, cards, chart, activity, connection).

``DashboardWindow`` is imported on first use: importing a part of this package
(the tray app's :mod:`app.ui.dashboard.lazy` stand-in) does not load the window's
modules and QtCharts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.ui.dashboard.window import DashboardWindow

__all__ = ["DashboardWindow"]


def __getattr__(name: str) -> Any:
    if name == "DashboardWindow":
        from app.ui.dashboard.window import DashboardWindow

        return DashboardWindow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
