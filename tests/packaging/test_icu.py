"""The smaller ICU data library: package format, item choice, and Qt using it."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from packaging_tools import icu

PYSIDE_LIB = Path(str(__import__("PySide6").__file__)).parent / "Qt" / "lib"
ICU_DATA = sorted(PYSIDE_LIB.glob("libicudata.so.*"))
needs_icu = pytest.mark.skipif(not ICU_DATA, reason="this PySide6 ships no libicudata (not Linux)")


def _header() -> bytes:
    # MappedData + UDataInfo (little-endian, ASCII, 2-byte UChar, "CmnD" 1.0),
    # padded to 32 bytes as ICU pads its headers to 16.
    info = struct.pack("<HH4B4s4B4B", 20, 0, 0, 0, 2, 0, b"CmnD", 1, 0, 0, 0, 73, 0, 0, 0)
    header = struct.pack("<HBB", 32, 0xDA, 0x27) + info
    return header + b"\0" * (32 - len(header))


def test_a_package_survives_a_write_and_read_with_items_aligned() -> None:
    items = (
        ("icudt73l/coll/root.res", b"root collation" + b"\0" * 2),
        ("icudt73l/de.res", b"de" * 9),
        ("icudt73l/zone/root.res", b"z"),
    )
    package = icu.IcuPackage(header=_header(), items=items)
    blob = icu.write_package(package)
    again = icu.read_package(blob)
    assert [name for name, _ in again.items] == [name for name, _ in items]
    for (_, original), (_, read) in zip(items, again.items, strict=True):
        # Items come back with their alignment padding.
        assert read[: len(original)] == original
    toc = blob[32:]
    (count,) = struct.unpack_from("<I", toc, 0)
    offsets = [struct.unpack_from("<II", toc, 4 + 8 * i)[1] for i in range(count)]
    assert all((32 + offset) % 16 == 0 for offset in offsets)
    assert icu.write_package(again) == blob


def test_garbage_is_refused() -> None:
    with pytest.raises(icu.IcuPackageError):
        icu.read_package(b"\0" * 64)


@pytest.mark.parametrize(
    "name",
    [
        "icudt73l/coll/ucadata.icu",
        "icudt73l/coll/root.res",
        "icudt73l/coll/sv.res",  # collation is kept for every language
        "icudt73l/coll/zh.res",
        "icudt73l/root.res",
        "icudt73l/en_GB.res",
        "icudt73l/pool.res",
        "icudt73l/res_index.res",
        "icudt73l/supplementalData.res",
        "icudt73l/likelySubtags.res",
        "icudt73l/zoneinfo64.res",
        "icudt73l/metaZones.res",
        "icudt73l/uprops.icu",
        "icudt73l/nfkc.nrm",
        "icudt73l/cnvalias.icu",
        "icudt73l/brkitr/word.brk",
        "icudt73l/zone/en.res",
        "icudt73l/zone/pool.res",
    ],
)
def test_what_qt_asks_icu_for_is_kept(name: str) -> None:
    assert icu.keep_item(name)


@pytest.mark.parametrize(
    "name",
    [
        "icudt73l/unit/de.res",
        "icudt73l/curr/en.res",
        "icudt73l/lang/fr.res",
        "icudt73l/region/ja.res",
        "icudt73l/translit/root.res",
        "icudt73l/rbnf/en.res",
        "icudt73l/brkitr/cjdict.dict",
        "icudt73l/brkitr/thaidict.dict",
        "icudt73l/ibm-943_P15A-2003.cnv",
        "icudt73l/de.res",
        "icudt73l/zone/de.res",
    ],
)
def test_what_qt_never_asks_for_is_dropped(name: str) -> None:
    assert not icu.keep_item(name)


def test_locale_data_follows_the_apps_languages() -> None:
    german = frozenset({"en", "de_AT"})
    assert icu.keep_item("icudt73l/zone/de.res", german)
    assert icu.keep_item("icudt73l/de_CH.res", german)
    assert not icu.keep_item("icudt73l/zone/fr.res", german)


@needs_icu
def test_the_real_data_library_parses_and_rebuilds_byte_for_byte() -> None:
    symbol, blob = icu.data_symbol(ICU_DATA[0])
    assert symbol.startswith("icudt") and symbol.endswith("_dat")
    package = icu.read_package(blob)
    assert len(package.items) > 1000
    assert icu.write_package(package) == blob


_QT_PROBE = """
from PySide6.QtCore import QCollator, QDateTime, QLocale, QTimeZone
import functools
sv = QCollator(QLocale("sv_SE"))
print(sorted(["zebra", "öl", "apple"], key=functools.cmp_to_key(sv.compare)))
tz = QTimeZone(b"Europe/Berlin")
print(tz.displayName(QDateTime(2026, 1, 15, 12, 0, 0), QTimeZone.NameType.LongName,
                     QLocale("de_DE")))
print(QLocale("tr_TR").toUpper("istanbul"))
print(next(line.split()[-1] for line in open("/proc/self/maps") if "libicudata" in line))
"""


@needs_icu
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")
def test_qt_sorts_and_names_time_zones_with_the_smaller_library(tmp_path: Path) -> None:
    result = icu.shrink_library(
        ICU_DATA[0], tmp_path / ICU_DATA[0].name, languages=frozenset({"en", "de"})
    )
    assert result.size_after < result.size_before / 3
    env = {
        **os.environ,
        # Searched before the RUNPATH that points Qt at its own copy.
        "LD_LIBRARY_PATH": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
    }
    probe = subprocess.run(
        [sys.executable, "-c", _QT_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = probe.stdout.splitlines()
    assert lines[0] == "['apple', 'zebra', 'öl']"  # Swedish: ö after z
    assert lines[1] == "Mitteleuropäische Normalzeit"
    assert lines[2] == "İSTANBUL"  # Turkish dotted capital I
    assert lines[3] == str(tmp_path / ICU_DATA[0].name)
