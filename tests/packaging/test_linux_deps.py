"""System libraries a bundle needs, and the Debian packages its .deb must depend on."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from packaging_tools import elf, linux_deps

PYSIDE_QT = Path(str(__import__("PySide6").__file__)).parent / "Qt"
XCB_PLUGIN = PYSIDE_QT / "plugins" / "platforms" / "libqxcb.so"
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not XCB_PLUGIN.is_file(),
    reason="needs PySide6's Linux xcb plugin",
)


@linux_only
def test_elf_needed_libraries_of_the_xcb_plugin() -> None:
    needed = elf.needed_libraries(XCB_PLUGIN)
    assert "libxcb.so.1" in needed and "libQt6Gui.so.6" in needed


def test_a_text_file_is_not_elf(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not elf.is_elf(text)
    with pytest.raises(elf.ElfError):
        elf.sections(text.read_bytes())


@pytest.fixture
def xcb_bundle(tmp_path: Path) -> Path:
    """A bundle holding the real xcb plugin and stand-ins for the Qt libraries it loads."""
    bundle = tmp_path / "bundle"
    plugin_dir = bundle / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    plugin_dir.mkdir(parents=True)
    shutil.copyfile(XCB_PLUGIN, plugin_dir / XCB_PLUGIN.name)
    lib = bundle / "_internal" / "PySide6" / "Qt" / "lib"
    lib.mkdir(parents=True)
    for name in elf.needed_libraries(XCB_PLUGIN):
        if name.startswith("libQt6"):
            (lib / name).write_bytes(b"not loaded in this test")
    return bundle


@linux_only
def test_the_xcb_plugin_needs_the_xcb_stack_from_the_system(xcb_bundle: Path) -> None:
    missing = linux_deps.missing_sonames(xcb_bundle)
    assert not any(name.startswith("libQt6") for name in missing)  # carried
    assert "_internal/PySide6/Qt/plugins/platforms/libqxcb.so" in missing["libxcb.so.1"]
    clauses = linux_deps.depends(missing)
    for package in ("libc6", "libgl1", "libxcb1", "libxcb-cursor0", "libxkbcommon-x11-0"):
        assert package in clauses
    assert clauses == sorted(set(clauses))


def test_an_unmapped_library_fails_naming_it_and_its_user() -> None:
    with pytest.raises(linux_deps.UnknownLibraries, match="libfancy.so.7") as caught:
        linux_deps.depends({"libfancy.so.7": {"_internal/libuser.so"}, "libc.so.6": {"x"}})
    assert "_internal/libuser.so" in str(caught.value)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg (Debian/Ubuntu)")
def test_this_host_agrees_with_the_table_for_libc() -> None:
    (found,) = linux_deps.host_packages(["libc.so.6"])
    assert found.path is not None
    assert found.package == linux_deps.SYSTEM_LIBRARIES["libc.so.6"]
