"""The size reductions both specs apply to a PyInstaller ``Analysis``.

``slim(a, workpath)`` prunes ``a.binaries`` and ``a.datas`` with
:mod:`packaging_tools.prune` and, on Linux, swaps ICU's data library for the
smaller one from :mod:`packaging_tools.icu` (unless
``SELLER_NOTIFIER_FULL_ICU=1``).  It writes ``pruned.txt`` (every dropped file
and why) into ``workpath`` and prints one line per reduction.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from packaging_tools import icu, prune
from packaging_tools.prune import TocEntry

__all__ = ["FULL_ICU_ENV", "AnalysisLike", "slim"]

#: Set to 1 to ship ICU's full data library.
FULL_ICU_ENV = "SELLER_NOTIFIER_FULL_ICU"


class AnalysisLike(Protocol):
    """The part of PyInstaller's ``Analysis`` that :func:`slim` changes."""

    binaries: list[TocEntry]
    datas: list[TocEntry]


def _shrink_icu(
    binaries: list[TocEntry], workpath: Path, languages: frozenset[str]
) -> list[TocEntry]:
    result: list[TocEntry] = []
    for dest, source, kind in binaries:
        name = os.path.basename(dest)
        if name.startswith("libicudata.so"):
            try:
                shrunk = icu.shrink_library(
                    Path(source), workpath / "icu" / name, languages=languages
                )
            except (FileNotFoundError, icu.IcuPackageError, subprocess.CalledProcessError) as exc:
                # A working bundle with the big library beats no bundle.
                print(f"slim: WARNING: keeping ICU's full data library: {exc}")
                result.append((dest, source, kind))
                continue
            print(
                f"slim: ICU data {shrunk.size_before / 1e6:.1f} MB -> "
                f"{shrunk.size_after / 1e6:.1f} MB "
                f"({shrunk.items_after} of {shrunk.items_before} items)"
            )
            source = str(shrunk.library)
        result.append((dest, source, kind))
    return result


def slim(
    analysis: AnalysisLike,
    workpath: str | Path,
    *,
    qt_modules: frozenset[str] | None = None,
    languages: frozenset[str] = frozenset(),
    platform: str = sys.platform,
) -> None:
    """Apply the pruning rules and the ICU reduction to ``analysis`` in place.

    ``qt_modules``: the PySide6 modules the program imports (``QtWidgets``, ...);
    PySide6 bindings that importing them does not load are dropped.  None keeps
    every binding PyInstaller collected.  ``languages``: the app's own
    translations (:func:`packaging_tools.prune.app_languages`); Qt's catalogs
    and ICU's locale data are shipped for those only (and English).
    """
    work = Path(workpath)
    work.mkdir(parents=True, exist_ok=True)
    bindings = None if qt_modules is None else prune.pyside_bindings_loaded(qt_modules)
    if bindings is not None:
        print(f"slim: PySide6 bindings loaded: {' '.join(sorted(bindings))}")
    analysis.binaries, dropped_binaries = prune.prune(
        analysis.binaries, platform=platform, bindings=bindings, languages=languages
    )
    analysis.datas, dropped_datas = prune.prune(
        analysis.datas, platform=platform, bindings=bindings, languages=languages
    )
    dropped = dropped_binaries + dropped_datas
    size = sum(os.path.getsize(entry[1]) for entry, _ in dropped if os.path.isfile(entry[1]))
    print(f"slim: pruned {len(dropped)} files, {size / 1e6:.1f} MB (list: {work / 'pruned.txt'})")
    with (work / "pruned.txt").open("w", encoding="utf-8") as report:
        for entry, reason in dropped:
            report.write(f"{entry[0]}\t{reason}\n")
    if platform.startswith("linux") and os.environ.get(FULL_ICU_ENV) != "1":
        analysis.binaries = _shrink_icu(analysis.binaries, work, icu.DEFAULT_LANGUAGES | languages)
