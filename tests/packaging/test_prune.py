"""Which collected files the bundle keeps: Qt parts, plugins, translations, system libraries."""

from __future__ import annotations

from pathlib import Path

import pytest

from packaging_tools import prune

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_QT = "/venv/site-packages/PySide6/Qt/lib/"

KEPT = [
    # The Qt modules the app uses, on every platform's naming.
    ("PySide6/Qt/lib/libQt6Core.so.6", VENV_QT + "libQt6Core.so.6"),
    ("PySide6/Qt/lib/libQt6Gui.so.6", VENV_QT + "libQt6Gui.so.6"),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", VENV_QT + "libQt6Widgets.so.6"),
    ("PySide6/Qt/lib/libQt6Svg.so.6", VENV_QT + "libQt6Svg.so.6"),
    ("PySide6/Qt/lib/libQt6Network.so.6", VENV_QT + "libQt6Network.so.6"),
    ("PySide6/Qt/lib/libQt6DBus.so.6", VENV_QT + "libQt6DBus.so.6"),
    ("PySide6/Qt/lib/libQt6Multimedia.so.6", VENV_QT + "libQt6Multimedia.so.6"),
    ("PySide6/Qt/lib/libQt6Charts.so.6", VENV_QT + "libQt6Charts.so.6"),
    ("PySide6/Qt/lib/libQt6OpenGLWidgets.so.6", VENV_QT + "libQt6OpenGLWidgets.so.6"),
    ("PySide6/Qt/lib/libQt6XcbQpa.so.6", VENV_QT + "libQt6XcbQpa.so.6"),
    ("PySide6/Qt/lib/libicudata.so.73", VENV_QT + "libicudata.so.73"),
    ("PySide6/QtCharts.abi3.so", "/venv/site-packages/PySide6/QtCharts.abi3.so"),
    ("PySide6/QtMultimedia.abi3.so", "/venv/site-packages/PySide6/QtMultimedia.abi3.so"),
    ("PySide6/Qt6Widgets.dll", "C:\\venv\\PySide6\\Qt6Widgets.dll"),
    ("PySide6/Qt/lib/QtGui.framework/Versions/A/QtGui", "/venv/QtGui.framework/Versions/A/QtGui"),
    # The platform plugins: X11, Wayland, headless, and the other installers'.
    ("PySide6/Qt/plugins/platforms/libqxcb.so", "/p/libqxcb.so"),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", "/p/libqwayland.so"),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "/p/libqoffscreen.so"),
    ("PySide6/plugins/platforms/qwindows.dll", "C:\\p\\qwindows.dll"),
    ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", "/p/libqcocoa.dylib"),
    ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", "/p/x.so"),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", "/p/libqsvg.so"),
    ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", "/p/libqsvgicon.so"),
    ("PySide6/Qt/plugins/tls/libqopensslbackend.so", "/p/libqopensslbackend.so"),
    # Libraries only CPython uses stay even though they come from the system.
    ("libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"),
    ("libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"),
    ("libsqlite3.so.0", "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"),
    ("libpython3.11.so.1.0", "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"),
    ("resources/icons/seller-notifier.svg", "/repo/resources/icons/seller-notifier.svg"),
]

DROPPED = [
    ("PySide6/Qt/lib/libQt6Quick.so.6", "Quick"),
    ("PySide6/Qt/lib/libQt6QuickControls2Basic.so.6", "Quick"),
    ("PySide6/Qt/lib/libQt6Qml.so.6", "Qml"),
    ("PySide6/Qt/lib/libQt6QmlModels.so.6", "Qml"),
    ("PySide6/Qt/lib/libQt6Pdf.so.6", "Pdf"),
    ("PySide6/Qt/lib/libQt6VirtualKeyboard.so.6", "VirtualKeyboard"),
    ("PySide6/Qt/lib/libQt6WebEngineCore.so.6", "WebEngine"),
    ("PySide6/Qt/lib/libQt63DRender.so.6", "3D"),
    ("PySide6/Qt/lib/libQt6Designer.so.6", "Designer"),
    ("PySide6/QtQuick.abi3.so", "Quick"),
    ("PySide6/Qt6Quick.dll", "Quick"),
    ("PySide6/Qt/lib/QtQml.framework/Versions/A/QtQml", "Qml"),
    ("PySide6/libpyside6qml.abi3.so.6.11", "Qml"),
    ("PySide6/Qt/qml/QtQuick/Controls/libqtquickcontrols2plugin.so", "QML"),
    ("PySide6/Qt/plugins/imageformats/libqpdf.so", "imageformats"),
    ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", "input"),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", "platforms"),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "platformthemes"),
    ("PySide6/Qt/plugins/generic/libqevdevmouseplugin.so", "generic"),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", "sqldrivers"),
    ("PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so", "multimedia"),
    ("PySide6/Qt/translations/qtbase_ko.qm", "translation"),
    ("PySide6/Qt/translations/qtbase_de.qm", "translation"),  # the app has no German
    ("PySide6/Qt/translations/qt_help_de.qm", "translation"),
    ("PySide6/Qt/translations/qtdeclarative_de.qm", "translation"),
    ("PySide6/opengl32sw.dll", "OpenGL"),
    ("PySide6/Qt/lib/libavcodec.so.61", "FFmpeg"),
    ("PySide6/Qt/lib/libswresample.so.5", "FFmpeg"),
    ("PySide6/Qt/lib/libQt6FFmpegStub-va.so.2", "FFmpeg"),
    ("PySide6/avformat-61.dll", "FFmpeg"),
    ("PySide6/Qt/lib/libavutil.59.dylib", "FFmpeg"),
]

SYSTEM_LIBRARIES = [
    ("libX11.so.6", "/lib/x86_64-linux-gnu/libX11.so.6"),
    ("libxcb-cursor.so.0", "/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0"),
    ("libglib-2.0.so.0", "/lib/x86_64-linux-gnu/libglib-2.0.so.0"),
    ("libfontconfig.so.1", "/usr/lib/x86_64-linux-gnu/libfontconfig.so.1"),
    ("libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
    ("libpulse.so.0", "/usr/lib/x86_64-linux-gnu/libpulse.so.0"),
    # Shared by CPython and the desktop stack: one (the system's) copy.
    ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
    ("libffi.so.8", "/lib/x86_64-linux-gnu/libffi.so.8"),
    ("libexpat.so.1", "/lib/x86_64-linux-gnu/libexpat.so.1"),
]


@pytest.mark.parametrize(("dest", "source"), KEPT)
def test_what_the_app_needs_is_kept(dest: str, source: str) -> None:
    assert prune.drop_reason(dest, source, platform="linux") is None


@pytest.mark.parametrize(("dest", "what"), DROPPED)
def test_unused_qt_parts_are_dropped_with_a_reason(dest: str, what: str) -> None:
    reason = prune.drop_reason(dest, "/venv/site-packages/" + dest, platform="linux")
    assert reason is not None
    assert what.lower() in reason.lower() or "not needed" in reason or "unused" in reason


@pytest.mark.parametrize(("dest", "source"), SYSTEM_LIBRARIES)
def test_desktop_system_libraries_are_left_to_the_os_on_linux_only(dest: str, source: str) -> None:
    assert prune.drop_reason(dest, source, platform="linux") == (
        "system library (a Depends of the .deb)"
    )
    assert prune.drop_reason(dest, source, platform="darwin") is None


def test_prune_splits_and_keeps_order() -> None:
    toc = [
        ("PySide6/Qt/lib/libQt6Core.so.6", "/q/libQt6Core.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Quick.so.6", "/q/libQt6Quick.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/q/libQt6Gui.so.6", "BINARY"),
    ]
    kept, dropped = prune.prune(toc, platform="linux")
    assert kept == [toc[0], toc[2]]
    assert [entry for entry, _ in dropped] == [toc[1]]


def test_modules_the_app_imports_are_found(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from PySide6.QtCore import QTimer\nimport PySide6.QtSvg\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text(
        "from PySide6 import (\n    QtMultimedia,\n    QtCharts,\n)\n"
    )
    assert prune.qt_modules_imported_by(tmp_path) == {
        "QtCore",
        "QtSvg",
        "QtMultimedia",
        "QtCharts",
    }


def test_a_pruned_module_the_app_imports_stops_the_build() -> None:
    with pytest.raises(prune.PruneConflict, match="QtQuickWidgets"):
        prune.check_protected({"QtCore", "QtQuickWidgets"})


def test_the_app_imports_no_qt_module_the_bundle_leaves_out() -> None:
    # The same check the spec makes: fails here first if app/ starts using one.
    prune.check_protected(prune.qt_modules_imported_by(ROOT / "app"))


def test_bindings_the_app_does_not_load_are_dropped_but_their_libraries_stay() -> None:
    bindings = frozenset({"QtCore", "QtGui", "QtWidgets", "QtCharts"})
    opengl_binding = "PySide6/QtOpenGL.abi3.so"
    assert prune.drop_reason(opengl_binding, "/v/" + opengl_binding, bindings=bindings)
    assert prune.drop_reason("PySide6/QtOpenGL.pyd", "C:\\v\\QtOpenGL.pyd", bindings=bindings)
    assert prune.drop_reason("PySide6/QtCharts.abi3.so", "/v/x", bindings=bindings) is None
    lib = "PySide6/Qt/lib/libQt6OpenGL.so.6"  # QtCharts' C++ library needs it
    assert prune.drop_reason(lib, "/v/" + lib, bindings=bindings) is None
    # Without the set, every binding is kept.
    assert prune.drop_reason(opengl_binding, "/v/" + opengl_binding) is None


def test_importing_a_binding_loads_the_bindings_it_depends_on() -> None:
    loaded = prune.pyside_bindings_loaded({"QtWidgets"})
    assert {"QtCore", "QtGui", "QtWidgets"} <= loaded
    assert "QtOpenGL" not in loaded


def test_qt_catalogs_follow_the_apps_own_languages(tmp_path: Path) -> None:
    (tmp_path / "translations").mkdir()
    (tmp_path / "translations" / "seller-notifier_de.qm").write_bytes(b"")
    (tmp_path / "translations" / "seller-notifier_pt_BR.qm").write_bytes(b"")
    languages = prune.app_languages(tmp_path)
    assert languages == {"de", "pt_BR"}
    keep = "PySide6/Qt/translations/qtbase_de.qm"
    assert prune.drop_reason(keep, "/t/" + keep, languages=languages) is None
    keep = "PySide6/Qt/translations/qt_pt_BR.qm"
    assert prune.drop_reason(keep, "/t/" + keep, languages=languages) is None
    other = "PySide6/Qt/translations/qtbase_fr.qm"
    assert prune.drop_reason(other, "/t/" + other, languages=languages) is not None
    help_catalog = "PySide6/Qt/translations/qt_help_de.qm"
    assert prune.drop_reason(help_catalog, "/t/" + help_catalog, languages=languages)
