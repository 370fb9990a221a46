"""SVG icons from ``resources/icons`` as Qt pixmaps and icons, cached per name and size."""

from __future__ import annotations

import logging
from functools import cache

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.resources import ResourceMissing, icon_path

log = logging.getLogger("seller_notifier.ui")

_ICON_SIZES = (16, 22, 24, 32, 48, 64)
"""Rendered up front so a tray host that asks for any common size gets a sharp one."""


@cache
def svg_pixmap(name: str, size: int) -> QPixmap:
    """``name`` (e.g. ``event-payment``) rendered square at ``size`` px.

    A missing or unreadable file gives a transparent pixmap and one log line:
    a lost icon must never stop a notification.
    """
    pixmap = QPixmap(QSize(size, size))
    pixmap.fill(Qt.GlobalColor.transparent)
    try:
        path = icon_path(name)
    except ResourceMissing as exc:
        log.warning("%s", exc)
        return pixmap
    renderer = QSvgRenderer(str(path))
    if not renderer.isValid():
        log.warning("icon %s is not a valid SVG", path)
        return pixmap
    painter = QPainter(pixmap)
    try:
        renderer.render(painter)
    finally:
        painter.end()
    return pixmap


@cache
def svg_icon(name: str) -> QIcon:
    """A QIcon for ``name`` with a pixmap for every common size."""
    icon = QIcon()
    for size in _ICON_SIZES:
        icon.addPixmap(svg_pixmap(name, size))
    return icon


def forget_icons() -> None:
    """Drop the cached pixmaps and icons (before the QApplication goes away)."""
    svg_icon.cache_clear()
    svg_pixmap.cache_clear()
