"""The page stage: upright, level, recognised, confident, and never done twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr.inputs import open_document
from ocr.options import OcrOptions
from ocr.page import process_page
from tests.conftest import Scans, cer

LIMIT = 400_000_000


def _only_page(path: Path):
    return open_document(path, LIMIT).pages[0]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_sideways_and_upside_down_pages_are_turned(scans: Scans, tmp_path: Path,
                                                   rotation: int) -> None:
    path, text = scans.page("eng", seed=5, rotation=rotation)
    result = process_page(_only_page(path), OcrOptions(languages="eng"), tmp_path)
    assert result.rotation == rotation
    assert (result.width_px, result.height_px) == (2480, 3508)  # upright A4 at 300 dpi
    assert cer(text, result.text) < 0.03


def test_vietnamese_diacritics_and_confidence(scans: Scans, tmp_path: Path) -> None:
    path, text = scans.page("vie", seed=2, skew=2.0, noise=0.2)
    result = process_page(_only_page(path), OcrOptions(languages="vie"), tmp_path)
    assert abs(result.skew - 2.0) < 0.2
    assert cer(text, result.text) < 0.03
    assert "Hà Nội" in result.text or "ngày" in result.text
    assert result.mean_confidence and result.mean_confidence > 80
    assert not result.low_confidence
    for name in ("page.txt", "page.hocr", "page.xml"):
        assert (result.path / name).stat().st_size > 0
    assert 'WC="' in (result.path / "page.xml").read_text()  # ALTO word confidences


def test_results_are_cached_by_content_and_options(scans: Scans, tmp_path: Path) -> None:
    path, _ = scans.page("deu", seed=4, bilevel=True, encoding="tiff-g4")
    ref = _only_page(path)
    first = process_page(ref, OcrOptions(languages="deu"), tmp_path)
    stamp = (first.path / "result.json").stat().st_mtime_ns
    again = process_page(ref, OcrOptions(languages="deu", jobs=7, page_timeout=9), tmp_path)
    assert again.cached and again.key == first.key
    assert (again.path / "result.json").stat().st_mtime_ns == stamp
    other = process_page(ref, OcrOptions(languages="deu", deskew=False), tmp_path)
    assert other.key != first.key and not other.cached
    assert not list(tmp_path.rglob(".*.*"))  # no staging left behind


def test_low_confidence_pages_are_flagged(scans: Scans, tmp_path: Path) -> None:
    path, _ = scans.page("vie", seed=8)
    # Read Vietnamese as if it were German, and demand near perfection: flagged.
    result = process_page(_only_page(path),
                          OcrOptions(languages="deu", low_confidence=99.0), tmp_path)
    assert result.low_confidence
