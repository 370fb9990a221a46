"""In-app toasts: small windows stacked in a screen corner."""

from app.ui.toasts.layout import CORNERS, Rect, toast_geometry
from app.ui.toasts.manager import ToastManager, available_geometry, primary_available_geometry
from app.ui.toasts.toast import ACCENTS, Toast

__all__ = [
    "ACCENTS",
    "CORNERS",
    "Rect",
    "Toast",
    "ToastManager",
    "available_geometry",
    "primary_available_geometry",
    "toast_geometry",
]
