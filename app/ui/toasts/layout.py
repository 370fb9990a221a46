"""Where toasts go on the screen: pure arithmetic on tuples, no Qt, testable for every corner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from app.config.settings import Corner

CORNERS: Final[tuple[Corner, ...]] = ("top-right", "top-left", "bottom-right", "bottom-left")
DEFAULT_CORNER: Final[Corner] = "top-right"


class Rect(NamedTuple):
    x: int
    y: int
    width: int
    height: int


def toast_geometry(
    corner: Corner,
    available: Rect,
    sizes: Sequence[tuple[int, int]],
    *,
    margin: int = 16,
    spacing: int = 8,
) -> list[Rect]:
    """One rectangle per ``(width, height)`` in ``sizes``, stacked from ``corner``.

    ``available`` is the screen's available geometry (without panels). The first
    size is placed in the corner, ``margin`` px from both edges; each next one
    ``spacing`` px further away from it (downwards for top corners, upwards for
    bottom ones), aligned to the same side. So older toasts stay where they are
    when newer ones arrive, and the list can be laid out again after one closes.
    """
    if corner not in CORNERS:
        raise ValueError(f"unknown corner {corner!r}; expected one of {', '.join(CORNERS)}")
    right = corner.endswith("right")
    top = corner.startswith("top")
    rects: list[Rect] = []
    offset = margin
    for width, height in sizes:
        x = available.x + available.width - margin - width if right else available.x + margin
        if top:
            y = available.y + offset
        else:
            y = available.y + available.height - offset - height
        rects.append(Rect(x, y, width, height))
        offset += height + spacing
    return rects
