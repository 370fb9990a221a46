"""Tests for the bundled resources and the ``app.resources`` accessor."""

from __future__ import annotations

import array
import configparser
import importlib.util
import math
import sys
import wave
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest

from app import resources
from app.resources import (
    APP_ICON,
    ENV_OVERRIDE,
    EVENT_ICONS,
    INSTALLED_SUBDIR,
    SOUNDS,
    TRAY_ICONS,
    ResourceMissing,
    desktop_entry_path,
    icon_path,
    resource_path,
    resource_root,
    sound_path,
)

REPO_RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ALL_ICONS = (APP_ICON, *TRAY_ICONS, *EVENT_ICONS)
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts unfrozen and without the override variable."""
    monkeypatch.delenv(ENV_OVERRIDE, raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)


# --------------------------------------------------------------------------
# Icons
# --------------------------------------------------------------------------


def test_expected_icon_names() -> None:
    assert set(ALL_ICONS) == {
        "seller-notifier",
        "tray-connected",
        "tray-connecting",
        "tray-offline",
        "tray-paused",
        "event-new-order",
        "event-order-status",
        "event-payment",
        "event-tier",
        "event-review",
        "event-analytics",
        "event-generic",
    }


@pytest.mark.parametrize("name", ALL_ICONS)
def test_icon_is_self_contained_64px_svg(name: str) -> None:
    path = icon_path(name)
    assert path == REPO_RESOURCES / "icons" / f"{name}.svg"
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == "0 0 64 64"
    # No embedded bitmaps, external references or scripts.
    for element in root.iter():
        assert element.tag not in {f"{SVG_NS}image", f"{SVG_NS}script", f"{SVG_NS}use"}
        for attribute in element.attrib:
            assert not attribute.endswith("href"), (name, element.tag, attribute)


@pytest.mark.gui
@pytest.mark.parametrize("name", ALL_ICONS)
def test_icon_renders_at_tray_size(qapp: object, name: str) -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(icon_path(name)))
    assert renderer.isValid()
    size = 22
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()

    assert not image.isNull()
    opaque = sum(
        1 for y in range(size) for x in range(size) if image.pixelColor(x, y).alpha() > 200
    )
    # A readable icon covers a good part of its square with solid colour.
    assert opaque >= size * size // 5, f"{name}: only {opaque} opaque pixels at {size}px"
    colours = {image.pixel(x, y) for y in range(size) for x in range(size)}
    assert len(colours) > 2, f"{name} renders as a flat blob"


# --------------------------------------------------------------------------
# Sounds
# --------------------------------------------------------------------------


class WavParams(NamedTuple):
    nchannels: int
    sampwidth: int
    framerate: int
    nframes: int
    comptype: str


def _read_wav(path: Path) -> tuple[WavParams, list[int]]:
    with wave.open(str(path), "rb") as wav:
        params = WavParams(
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getframerate(),
            wav.getnframes(),
            wav.getcomptype(),
        )
        frames = wav.readframes(params.nframes)
    samples = array.array("h")
    samples.frombytes(frames)
    if sys.byteorder == "big":
        samples.byteswap()
    return params, samples.tolist()


def test_expected_sound_names() -> None:
    assert set(SOUNDS) == {"new-order", "payment", "review", "tier-upgrade"}


@pytest.mark.parametrize("name", SOUNDS)
def test_sound_format_and_levels(name: str) -> None:
    path = sound_path(name)
    assert path == REPO_RESOURCES / "sounds" / f"{name}.wav"
    params, samples = _read_wav(path)
    assert params.nchannels == 1
    assert params.sampwidth == 2
    assert params.framerate == 44_100
    assert params.comptype == "NONE"
    assert len(samples) == params.nframes > 0
    # The file's own length (frames), not a measured time: a short cue, at most 1 s.
    assert 0.2 * params.framerate <= params.nframes <= 1.0 * params.framerate, params.nframes

    peak = max(abs(s) for s in samples)
    peak_dbfs = 20 * math.log10(peak / 32768)
    assert -6.0 <= peak_dbfs <= -1.0, peak_dbfs

    # Starts and ends near silence (faded, so no click): first/last 10 samples
    # below 1 % of full scale.
    edge = 32768 // 100
    assert max(abs(s) for s in samples[:10]) <= edge
    assert max(abs(s) for s in samples[-10:]) <= edge
    # The sound is not just silence with a spike: plenty of audible content.
    assert sum(1 for s in samples if abs(s) > peak // 10) > params.framerate // 20


def _load_make_sounds() -> ModuleType:
    script = REPO_RESOURCES / "sounds" / "make_sounds.py"
    spec = importlib.util.spec_from_file_location("_seller_notifier_make_sounds", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_sounds_regenerates_committed_files(tmp_path: Path) -> None:
    make_sounds = _load_make_sounds()
    assert make_sounds.main(["make_sounds.py", str(tmp_path)]) == 0
    for name in SOUNDS:
        committed_params, committed = _read_wav(sound_path(name))
        fresh_params, fresh = _read_wav(tmp_path / f"{name}.wav")
        assert fresh_params == committed_params
        # Allow one or two LSB of libm rounding differences between platforms.
        assert max(abs(a - b) for a, b in zip(committed, fresh, strict=True)) <= 2, name


# --------------------------------------------------------------------------
# Desktop entry
# --------------------------------------------------------------------------


class _CaseSensitiveParser(configparser.ConfigParser):
    """Desktop entry keys are case-sensitive (``Name`` vs ``name``)."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def test_desktop_entry_keys() -> None:
    path = desktop_entry_path()
    assert path == REPO_RESOURCES / "seller-notifier.desktop"
    parser = _CaseSensitiveParser(interpolation=None, strict=True)
    assert parser.read(path, encoding="utf-8") == [str(path)]
    assert parser.sections() == ["Desktop Entry"]
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Seller Notifier"
    assert entry["Exec"] == "seller-notifier"
    assert entry["Icon"] == "seller-notifier"
    assert entry["Categories"] == "Office;Finance;"
    assert entry["StartupNotify"] == "false"
    assert entry["Comment"].strip()
    # The Icon= name is shipped as an SVG.
    assert icon_path(entry["Icon"]).is_file()


# --------------------------------------------------------------------------
# Accessor
# --------------------------------------------------------------------------


def test_source_checkout_root() -> None:
    assert resource_root() == REPO_RESOURCES
    assert icon_path("tray-connected.svg") == icon_path("tray-connected")
    assert sound_path("payment.wav") == sound_path("payment")


def test_missing_resource_raises_resource_missing_naming_it() -> None:
    with pytest.raises(ResourceMissing) as excinfo:
        resource_path("icons", "no-such-icon.svg")
    error = excinfo.value
    assert isinstance(error, FileNotFoundError)
    expected = REPO_RESOURCES / "icons" / "no-such-icon.svg"
    assert error.path == expected
    assert error.filename == str(expected)
    assert str(expected) in str(error)

    with pytest.raises(ResourceMissing, match="no-such-sound.wav"):
        sound_path("no-such-sound")
    with pytest.raises(FileNotFoundError, match="no-such-icon.svg"):
        icon_path("no-such-icon")


@pytest.mark.parametrize("parts", [(), ("",), ("/etc", "passwd"), ("..", "app")])
def test_resource_path_rejects_bad_components(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        resource_path(*parts)


def test_frozen_bundle_uses_meipass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_root() == tmp_path / "resources"

    with pytest.raises(ResourceMissing) as excinfo:
        icon_path(APP_ICON)
    assert str(tmp_path / "resources" / "icons" / f"{APP_ICON}.svg") in str(excinfo.value)

    bundled = tmp_path / "resources" / "icons" / f"{APP_ICON}.svg"
    bundled.parent.mkdir(parents=True)
    bundled.write_text("<svg/>", encoding="utf-8")
    assert icon_path(APP_ICON) == bundled


def test_frozen_flag_alone_is_not_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    # sys._MEIPASS without sys.frozen (e.g. a stale attribute) is ignored.
    monkeypatch.setattr(sys, "_MEIPASS", "/nonexistent-meipass", raising=False)
    assert resource_root() == REPO_RESOURCES


def test_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_OVERRIDE, str(tmp_path))
    assert resource_root() == tmp_path
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "payment.wav").write_bytes(b"RIFF")
    assert sound_path("payment") == tmp_path / "sounds" / "payment.wav"
    with pytest.raises(ResourceMissing, match="review.wav"):
        sound_path("review")

    # The override also wins over a frozen bundle (packagers, tests).
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", "/nonexistent-meipass", raising=False)
    assert resource_root() == tmp_path


def test_installed_data_files_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A non-editable pip install: no repo checkout, files under <prefix>/share/..."""
    monkeypatch.setattr(resources, "_SOURCE_ROOT", tmp_path / "site-packages" / "resources")
    prefix = tmp_path / "venv"
    installed = prefix / INSTALLED_SUBDIR
    (installed / "icons").mkdir(parents=True)
    (installed / "icons" / f"{APP_ICON}.svg").write_text("<svg/>", encoding="utf-8")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    assert resource_root() == installed
    assert icon_path(APP_ICON) == installed / "icons" / f"{APP_ICON}.svg"


def test_unrelated_resources_dir_is_not_picked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A foreign ``site-packages/resources`` folder without our files is skipped."""
    foreign = tmp_path / "site-packages" / "resources"
    foreign.mkdir(parents=True)
    monkeypatch.setattr(resources, "_SOURCE_ROOT", foreign)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "empty-prefix"))
    monkeypatch.setattr(resources, "_installed_prefixes", lambda: [tmp_path / "empty-prefix"])
    # Nothing found anywhere: the source location is reported (and errors name it).
    assert resource_root() == foreign
    with pytest.raises(ResourceMissing, match="seller-notifier.desktop"):
        desktop_entry_path()
