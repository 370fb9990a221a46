"""A smaller ICU data library for the Linux bundle (32 MB -> about 4 MB).

Qt Core links ICU, whose data library ``libicudata.so.NN`` is the largest file
of the bundle.  Qt formats numbers and dates with its own CLDR tables; it asks
ICU only for collation (``QCollator``, locale-aware sorting), locale-specific
case mapping, time-zone display names and legacy text codecs.  So the data for
unit, currency, language and region names, transliteration, spell-out rules,
word-break dictionaries (Thai, Khmer, CJK) and the legacy codepage converters
can go.  Collation data is kept for every language (sellers' data comes in
any language); locale data and time-zone names only for the languages the app
speaks (``languages``; English by default, :data:`DEFAULT_LANGUAGES`), so Qt
names time zones in the app's language, and ICU falls back to the root locale
for the others.  Legacy codecs are gone:
``QStringDecoder("ISO-8859-15").isValid()`` is False in the bundle (Qt 6 on
Unix decodes the system's text as UTF-8 anyway).

The data is an ICU "common data" package (format ``CmnD``) stored in the
library as the symbol ``icudtNN_dat``.  :func:`read_package` and
:func:`write_package` parse and rebuild that package, :func:`shrink_library`
extracts it from the ELF file, filters it with :func:`keep_item` and links a
replacement library (one data symbol, same SONAME) with the C compiler.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging_tools import elf

__all__ = [
    "DEFAULT_LANGUAGES",
    "IcuPackage",
    "IcuPackageError",
    "ShrinkResult",
    "data_symbol",
    "keep_item",
    "read_package",
    "shrink_library",
    "write_package",
]

#: Languages whose ICU locale data (time-zone names) is kept by default.
DEFAULT_LANGUAGES: frozenset[str] = frozenset({"en"})

#: Data trees Qt never asks ICU for.
_DROPPED_TREES = frozenset({"curr", "lang", "rbnf", "region", "translit", "unit"})
#: Trees whose locale files are filtered by language (their other files stay).
#: Collation (``coll/``) is kept whole: sort order is what a user would notice.
_LOCALE_TREES = frozenset({"", "zone"})
_LOCALE_FILE = re.compile(r"^(?P<lang>[a-z]{2,3}|root)(?:_[A-Za-z0-9]+)*\.res$")
#: Files that look like locales but are the tree's index of them.
_NOT_LOCALES = frozenset({"res_index.res"})

_ALIGN = 16
_MAGIC = (0xDA, 0x27)


class IcuPackageError(ValueError):
    """The bytes are not an ICU common data package this module understands."""


@dataclass(frozen=True)
class IcuPackage:
    """A parsed ``CmnD`` package: its header and its items, in name order.

    Item names include the package prefix (``icudt73l/coll/root.res``); item
    bytes include the padding that aligns the next item.
    """

    header: bytes
    items: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class ShrinkResult:
    """What :func:`shrink_library` did: sizes in bytes and item counts."""

    library: Path
    size_before: int
    size_after: int
    items_before: int
    items_after: int


def _pad(length: int) -> int:
    return -length % _ALIGN


def read_package(blob: bytes) -> IcuPackage:
    """Parse an ICU common data package (little-endian, offset TOC)."""
    if len(blob) < 32 or (blob[2], blob[3]) != _MAGIC:
        raise IcuPackageError("no ICU data header (magic 0xda27)")
    header_size = struct.unpack_from("<H", blob, 0)[0]
    if blob[8] != 0 or blob[12:16] != b"CmnD":
        raise IcuPackageError("not a little-endian CmnD package")
    toc = blob[header_size:]
    (count,) = struct.unpack_from("<I", toc, 0)
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    items: list[tuple[str, bytes]] = []
    for index, (name_offset, data_offset) in enumerate(entries):
        name_end = toc.index(b"\0", name_offset)
        end = entries[index + 1][1] if index + 1 < count else len(toc)
        items.append((toc[name_offset:name_end].decode("ascii"), toc[data_offset:end]))
    return IcuPackage(header=blob[:header_size], items=tuple(items))


def write_package(package: IcuPackage) -> bytes:
    """Lay ``package`` out as ICU does: TOC, names, then 16-byte aligned items."""
    count = len(package.items)
    names = b""
    name_offsets: list[int] = []
    names_start = 4 + 8 * count
    for name, _ in package.items:
        name_offsets.append(names_start + len(names))
        names += name.encode("ascii") + b"\0"
    names += b"\xaa" * _pad(len(package.header) + names_start + len(names))
    data_offset = names_start + len(names)
    toc = bytearray(struct.pack("<I", count))
    body = bytearray()
    for (_, data), name_offset in zip(package.items, name_offsets, strict=True):
        toc += struct.pack("<II", name_offset, data_offset + len(body))
        body += data
        body += b"\0" * _pad(len(body))
    return package.header + bytes(toc) + names + bytes(body)


def keep_item(name: str, languages: frozenset[str] = DEFAULT_LANGUAGES) -> bool:
    """Whether the item ``name`` (with or without the package prefix) is kept.

    ``languages``: language codes (``de``; ``pt_BR`` counts as ``pt``) whose
    locale data and time-zone names stay.
    """
    path = name.split("/", 1)[1] if name.startswith("icudt") else name
    tree, _, file_name = path.rpartition("/")
    if tree in _DROPPED_TREES:
        return False
    if tree == "brkitr":
        return not file_name.endswith(".dict")
    if tree == "" and file_name.endswith(".cnv"):
        return False
    if tree in _LOCALE_TREES and file_name not in _NOT_LOCALES:
        match = _LOCALE_FILE.match(file_name)
        if match is not None:
            wanted = {language.split("_", 1)[0] for language in languages}
            return match.group("lang") in wanted or match.group("lang") == "root"
    return True


def data_symbol(library: Path) -> tuple[str, bytes]:
    """The name (``icudtNN_dat``) and bytes of the data symbol of an ICU data library."""
    try:
        found = elf.symbols(library.read_bytes())
    except elf.ElfError as exc:
        raise IcuPackageError(f"{library}: {exc}") from None
    for symbol in found:
        if re.fullmatch(r"icudt\d+_dat", symbol.name) and symbol.data:
            return symbol.name, symbol.data
    raise IcuPackageError(f"{library}: no icudtNN_dat symbol")


_ASSEMBLY = """\
    .section .rodata
    .globl {symbol}
    .type {symbol}, @object
    .balign 16
{symbol}:
    .incbin "{data}"
    .size {symbol}, . - {symbol}
    .section .note.GNU-stack,"",@progbits
"""


def shrink_library(
    library: Path,
    output: Path,
    *,
    languages: frozenset[str] = DEFAULT_LANGUAGES,
    compiler: str | None = None,
) -> ShrinkResult:
    """Write to ``output`` a copy of the ICU data ``library`` with only the kept items.

    ``output`` gets the same file name semantics (SONAME = ``library``'s file
    name).  Raises :class:`IcuPackageError` if the library is not understood and
    ``FileNotFoundError`` if no C compiler (``cc``) is found.
    """
    symbol, blob = data_symbol(library)
    package = read_package(blob)
    kept = IcuPackage(
        header=package.header,
        items=tuple(item for item in package.items if keep_item(item[0], languages)),
    )
    data = write_package(kept)
    cc = compiler or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise FileNotFoundError("no C compiler (cc) to link the smaller ICU data library")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icu-") as work:
        data_file = Path(work, "icudata.dat")
        data_file.write_bytes(data)
        source = Path(work, "icudata.S")
        source.write_text(_ASSEMBLY.format(symbol=symbol, data=data_file), encoding="ascii")
        subprocess.run(
            [
                cc,
                "-shared",
                "-nostdlib",
                f"-Wl,-soname,{library.name}",
                "-Wl,-z,noexecstack",
                "-o",
                str(output),
                str(source),
            ],
            check=True,
        )
    return ShrinkResult(
        library=output,
        size_before=library.stat().st_size,
        size_after=output.stat().st_size,
        items_before=len(package.items),
        items_after=len(kept.items),
    )
