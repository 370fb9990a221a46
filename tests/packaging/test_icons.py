"""Raster icons for the installers: the PNG, the Windows .ico and the macOS .icns."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from packaging_tools import icons

SVG = Path(__file__).resolve().parent.parent.parent / "resources" / "icons" / "seller-notifier.svg"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_png_is_the_svg_at_the_asked_size_with_transparent_corners(
    qapp: QApplication,
) -> None:
    data = icons.render_png(SVG, 256)
    assert _png_size(data) == (256, 256)
    image = QImage.fromData(data)
    assert image.pixelColor(0, 0).alpha() == 0  # rounded corner: see-through
    assert image.pixelColor(128, 128).alpha() == 255  # the drawing itself


@pytest.mark.qt_log_ignore("Cannot read file")  # Qt's own complaint, expected here
def test_an_invalid_svg_is_refused(qapp: QApplication, tmp_path: Path) -> None:
    broken = tmp_path / "broken.svg"
    broken.write_text("<svg")
    with pytest.raises(ValueError, match="not a valid SVG"):
        icons.render_png(broken, 32)


def test_ico_directory_points_at_each_png() -> None:
    pngs = {16: b"\x89PNG-16", 48: b"\x89PNG-48-image", 256: b"\x89PNG-256"}
    data = icons.ico_bytes(pngs)
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, 3)
    for index, size in enumerate(sorted(pngs)):
        width, height, _, _, _, bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        assert width == height == (0 if size == 256 else size)
        assert bits == 32
        assert data[offset : offset + length] == pngs[size]


def test_icns_elements_carry_their_type_and_length() -> None:
    pngs = {128: b"png-128", 1024: b"png-1024-bytes"}
    data = icons.icns_bytes(pngs)
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    first_type, first_length = data[8:12], struct.unpack(">I", data[12:16])[0]
    assert first_type == b"ic07" and data[16 : 8 + first_length] == b"png-128"
    with pytest.raises(ValueError, match="no element type"):
        icons.icns_bytes({100: b"x"})


def test_write_all_makes_the_three_files(qapp: QApplication, tmp_path: Path) -> None:
    written = icons.write_all(SVG, tmp_path / "icons")
    assert _png_size(written["png"].read_bytes()) == (256, 256)
    assert written["ico"].read_bytes()[:4] == b"\0\0\1\0"
    assert written["icns"].read_bytes()[:4] == b"icns"
