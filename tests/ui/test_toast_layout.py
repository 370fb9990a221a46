"""Where toasts land: every corner, stacking away from it, margins and spacing."""

from __future__ import annotations

import pytest

from app.ui.toasts.layout import CORNERS, Rect, toast_geometry

SCREEN = Rect(0, 30, 1920, 1050)  # a top panel of 30 px
SIZES = [(360, 80), (360, 100), (300, 60)]


def test_top_right_stacks_downwards() -> None:
    rects = toast_geometry("top-right", SCREEN, SIZES, margin=16, spacing=8)
    assert rects == [
        Rect(1920 - 16 - 360, 30 + 16, 360, 80),
        Rect(1920 - 16 - 360, 30 + 16 + 80 + 8, 360, 100),
        Rect(1920 - 16 - 300, 30 + 16 + 80 + 8 + 100 + 8, 300, 60),
    ]


def test_top_left_stacks_downwards() -> None:
    rects = toast_geometry("top-left", SCREEN, SIZES, margin=16, spacing=8)
    assert [r.x for r in rects] == [16, 16, 16]
    assert [r.y for r in rects] == [46, 134, 242]


def test_bottom_right_stacks_upwards() -> None:
    bottom = 30 + 1050
    rects = toast_geometry("bottom-right", SCREEN, SIZES, margin=16, spacing=8)
    assert rects[0] == Rect(1920 - 16 - 360, bottom - 16 - 80, 360, 80)
    assert rects[1].y + rects[1].height + 8 == rects[0].y
    assert rects[2].y + rects[2].height + 8 == rects[1].y
    assert rects[2].x == 1920 - 16 - 300


def test_bottom_left_stacks_upwards() -> None:
    bottom = 30 + 1050
    rects = toast_geometry("bottom-left", SCREEN, SIZES, margin=10, spacing=4)
    assert [r.x for r in rects] == [10, 10, 10]
    assert rects[0].y == bottom - 10 - 80
    assert rects[1].y == rects[0].y - 4 - 100


@pytest.mark.parametrize("corner", CORNERS)
def test_every_corner_keeps_toasts_on_screen_and_apart(corner: str) -> None:
    screen = Rect(100, 50, 1280, 720)  # a second monitor's offset
    rects = toast_geometry(corner, screen, SIZES)  # type: ignore[arg-type]
    for rect in rects:
        assert screen.x <= rect.x and rect.x + rect.width <= screen.x + screen.width
        assert screen.y <= rect.y and rect.y + rect.height <= screen.y + screen.height
    spans = sorted((r.y, r.y + r.height) for r in rects)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, "toasts overlap"


def test_no_toasts_no_rects() -> None:
    assert toast_geometry("top-right", SCREEN, []) == []


def test_unknown_corner_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown corner"):
        toast_geometry("middle", SCREEN, SIZES)  # type: ignore[arg-type]
