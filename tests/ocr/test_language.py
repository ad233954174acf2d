"""One language per page: a mixed batch's pages are each read with the model of the language
they are written in, decided from a band of body lines, and the decision is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr.inputs import open_document
from ocr.language import decide_language, score_languages
from ocr.options import OcrOptions
from ocr.pipeline import ocr_pages
from records.officeletters import make_office_letter, render_office_letter
from records.samples import PageStyle, make_letter, render_page, save_page


@pytest.mark.parametrize(("text", "language"), [
    ("Các cơ quan, đơn vị rà soát hồ sơ còn tồn đọng và lập danh mục trước ngày 30", "vie"),
    ("gemäß der Aktenordnung sind die Unterlagen vor der Vernichtung dem Archiv anzubieten",
     "deu"),
    ("The transfer of the closed case files to the archive will be made in March", "eng"),
])
def test_a_band_of_body_text_tells_its_language(text: str, language: str) -> None:
    scores = score_languages(text, ["vie", "deu", "eng"])
    best = max(scores, key=lambda code: scores[code])
    assert best == language and scores[best] >= 6, scores


def test_a_union_reading_with_stray_umlauts_is_still_vietnamese() -> None:
    """The union lets a few German letters into Vietnamese capitals: they do not outweigh a
    line of Vietnamese."""
    scores = score_languages("TÖNG CỤC CHÍNH TRỊ Căn cứ Luật Lưu trữ và các văn bản",
                             ["vie", "deu"])
    assert scores["vie"] > 3 * scores["deu"]


def test_a_blank_band_decides_nothing(tmp_path: Path) -> None:
    from PIL import Image
    decision = decide_language(Image.new("L", (2480, 3508), 255), 300, tmp_path, "vie+deu", 60)
    assert (decision.language, decision.source) == ("vie+deu", "undecided")
    assert not list(tmp_path.iterdir())  # the band's picture is gone


def test_one_language_is_given_not_decided(tmp_path: Path) -> None:
    from PIL import Image
    decision = decide_language(Image.new("L", (100, 100), 255), 300, tmp_path, "vie", 60)
    assert (decision.language, decision.source) == ("vie", "given")


def _page(path: Path, options: OcrOptions, cache: Path):
    [page] = ocr_pages(open_document(path, options.max_page_pixels), options, cache)
    return page


def test_each_page_of_a_mixed_batch_is_read_in_its_own_language(tmp_path: Path) -> None:
    """A Vietnamese letter in a vie+deu batch is read with vie alone: its capitals come out
    without German letters (the union read TÖNG CỤC), and the page says what it was read
    with; the same page with page_language = "union" is read with both, as before."""
    style = PageStyle(noise=0.2)
    vietnamese = save_page(render_office_letter(make_office_letter("vie", 10), style, seed=1),
                           tmp_path / "vie.png", style)
    german = save_page(render_page(make_letter("deu", 4, pages=1).pages[0], PageStyle()),
                       tmp_path / "deu.png", PageStyle())
    detect = OcrOptions(languages="vie+deu", jobs=1)
    page = _page(vietnamese, detect, tmp_path / "cache")
    assert (page.language, page.language_source) == ("vie", "detected")
    assert not any(c in page.text for c in "äöüÄÖÜß"), page.text
    page = _page(german, detect, tmp_path / "cache")
    assert (page.language, page.language_source) == ("deu", "detected")
    union = _page(vietnamese, OcrOptions(languages="vie+deu", jobs=1, page_language="union"),
                  tmp_path / "cache")
    assert (union.language, union.language_source) == ("vie+deu", "given")
    assert union.key != _page(vietnamese, detect, tmp_path / "cache").key  # cached apart
