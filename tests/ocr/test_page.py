"""The page stage: upright, level, recognised, confident, and never done twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ocr.inputs import open_document
from ocr.options import OcrOptions
from ocr.page import process_page, reread_head, reread_lines
from ocr.pipeline import ocr_pages
from records.officeletters import make_office_letter, render_office_letter
from records.samples import PageStyle, save_page
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


def _office_page(tmp_path: Path, seed: int, language: str):
    """An office letter rendered and recognised as bench/extract.py's office batch does."""
    letter = make_office_letter(language, seed)
    bilevel = seed % 3 == 0
    style = PageStyle(skew=((seed * 7) % 9 - 4) / 4, noise=0.1 + (seed % 4) / 10,
                      bilevel=bilevel, encoding="pdf-g4" if bilevel else "png")
    path = save_page(render_office_letter(letter, style, seed=seed),
                     tmp_path / f"letter.{'pdf' if bilevel else 'png'}", style)
    options = OcrOptions(languages=language, jobs=1)
    document = open_document(path, LIMIT)
    page = ocr_pages(document, options, tmp_path / "cache")[0]
    return letter, document.pages[0], page, options


def test_lines_are_read_again_apart_from_the_page(tmp_path: Path) -> None:
    """The subject's lines, found on the page by their text, are read two more ways, all
    in one Tesseract run; a line the page does not have gives no reading at all."""
    _, ref, page, options = _office_page(tmp_path, 4254, "vie")
    line = next(text for text in page.text.splitlines() if text.startswith("Về việc"))
    readings = reread_lines(ref, page, options, [line])
    assert len(readings) == 2 and all(len(reading) == 1 for reading in readings)
    # The page's model read the bold "Tổng" as "Tống"; the Vietnamese script model does not.
    assert "Tống kết" in line and all("Tổng kết" in reading[0] for reading in readings)
    assert reread_lines(ref, page, options, ["Kinh gửi: Bộ Ngoại giao nước ngoài"]) == []


def test_the_head_is_read_again_three_ways(tmp_path: Path) -> None:
    letter, ref, page, options = _office_page(tmp_path, 4254, "vie")
    readings = reread_head(ref, page, options)
    assert len(readings) == 3
    assert all(letter.truth.document_number.split("/")[0] in text for text in readings)
    unread = replace(page, ocr=False)  # a page whose text layer was kept: nothing to read
    assert reread_head(ref, unread, options) == []
    assert reread_lines(ref, unread, options, ["Về việc"]) == []
