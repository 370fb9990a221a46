"""Just enough ELF64 (little-endian) reading for the build checks: sections,
dynamic symbols and ``DT_NEEDED`` entries.

Pure Python so the checks run wherever the build runs, without binutils.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ElfError", "Section", "Symbol", "is_elf", "needed_libraries", "sections", "symbols"]

_SHT_DYNSYM = 11
_SHT_DYNAMIC = 6
_DT_NEEDED = 1


class ElfError(ValueError):
    """The file is not a little-endian ELF64 image."""


@dataclass(frozen=True)
class Section:
    index: int
    kind: int
    address: int
    offset: int
    size: int
    link: int


@dataclass(frozen=True)
class Symbol:
    """A dynamic symbol; ``data`` is its bytes when it lives in the file (else b"")."""

    name: str
    size: int
    data: bytes


def is_elf(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts with the ELF magic."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def sections(image: bytes) -> list[Section]:
    """The section headers of an ELF64 little-endian ``image``."""
    if image[:4] != b"\x7fELF" or len(image) < 64 or image[4] != 2 or image[5] != 1:
        raise ElfError("not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", image, 0x3A)
    found: list[Section] = []
    for index in range(shnum):
        base = shoff + index * shentsize
        _name, kind = struct.unpack_from("<II", image, base)
        address, offset, size = struct.unpack_from("<QQQ", image, base + 0x10)
        (link,) = struct.unpack_from("<I", image, base + 0x28)
        found.append(Section(index, kind, address, offset, size, link))
    return found


def _string(table: bytes, offset: int) -> str:
    return table[offset : table.index(b"\0", offset)].decode("utf-8", errors="replace")


def symbols(image: bytes) -> list[Symbol]:
    """The dynamic symbols of ``image`` (with their bytes when they have any)."""
    table = sections(image)
    found: list[Symbol] = []
    for dynsym in (s for s in table if s.kind == _SHT_DYNSYM):
        strtab = table[dynsym.link]
        strings = image[strtab.offset : strtab.offset + strtab.size]
        for base in range(dynsym.offset, dynsym.offset + dynsym.size, 24):
            st_name, _info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", image, base)
            data = b""
            if 0 < shndx < len(table) and size:
                home = table[shndx]
                start = home.offset + (value - home.address)
                data = image[start : start + size]
            found.append(Symbol(_string(strings, st_name), size, data))
    return found


def needed_libraries(path: Path) -> list[str]:
    """The ``DT_NEEDED`` sonames of the ELF file at ``path``, in file order."""
    image = path.read_bytes()
    table = sections(image)
    needed: list[str] = []
    for dynamic in (s for s in table if s.kind == _SHT_DYNAMIC):
        strtab = table[dynamic.link]
        strings = image[strtab.offset : strtab.offset + strtab.size]
        for base in range(dynamic.offset, dynamic.offset + dynamic.size, 16):
            tag, value = struct.unpack_from("<qQ", image, base)
            if tag == 0:
                break
            if tag == _DT_NEEDED:
                needed.append(_string(strings, value))
    return needed
