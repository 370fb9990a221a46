"""Raster icons for the installers, rendered from ``resources/icons/seller-notifier.svg``.

Linux menus want a PNG next to the SVG (hicolor ``256x256``), Windows wants an
``.ico`` and macOS an ``.icns``.  Both containers may hold PNG images as they
are (Windows Vista+, macOS 10.7+), so no image library is needed beyond Qt,
which renders the SVG (offscreen: no display needed).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

__all__ = ["ICNS_TYPES", "ICO_SIZES", "icns_bytes", "ico_bytes", "render_png", "write_all"]

#: Image sizes put into the Windows icon.
ICO_SIZES: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256)
#: ICNS element type for each PNG size.
ICNS_TYPES: dict[int, bytes] = {
    16: b"icp4",
    32: b"icp5",
    64: b"icp6",
    128: b"ic07",
    256: b"ic08",
    512: b"ic09",
    1024: b"ic10",
}

_APPLICATIONS: list[object] = []


def render_png(svg: Path, size: int) -> bytes:
    """PNG bytes of ``svg`` rendered into a transparent ``size`` x ``size`` square."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        # Kept referenced for the life of the process: Qt needs one application object.
        _APPLICATIONS.append(QGuiApplication([]))
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG image")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 takes the format as str (its stubs say bytes, which it rejects).
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]
        raise RuntimeError("Qt could not encode the PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows ``.ico`` holding the given PNG images (size -> PNG bytes)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    directory = b""
    images = b""
    for size in sizes:
        png = pngs[size]
        # A width/height byte of 0 means 256.
        side = 0 if size >= 256 else size
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        images += png
        offset += len(png)
    return header + directory + images


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS ``.icns`` holding the given PNG images (sizes from :data:`ICNS_TYPES`)."""
    body = b""
    for size in sorted(pngs):
        kind = ICNS_TYPES.get(size)
        if kind is None:
            raise ValueError(f"ICNS has no element type for {size}x{size}")
        body += kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_all(svg: Path, out_dir: Path) -> dict[str, Path]:
    """Write ``seller-notifier-256.png``, ``.ico`` and ``.icns`` to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = sorted(set(ICO_SIZES) | set(ICNS_TYPES))
    pngs = {size: render_png(svg, size) for size in sizes}
    written = {
        "png": out_dir / "seller-notifier-256.png",
        "ico": out_dir / "seller-notifier.ico",
        "icns": out_dir / "seller-notifier.icns",
    }
    written["png"].write_bytes(pngs[256])
    written["ico"].write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    written["icns"].write_bytes(icns_bytes({s: pngs[s] for s in ICNS_TYPES}))
    return written
