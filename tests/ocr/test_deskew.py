"""Skew is measured to a fraction of a degree, and blank pages are left alone."""

from __future__ import annotations

import pytest
from PIL import Image

from ocr.deskew import estimate_skew
from records.samples import PageStyle, make_letter, render_page


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return render_page(make_letter("eng", 3, pages=1).pages[0], PageStyle(dpi=150))


@pytest.mark.parametrize("angle", [-3.0, -1.2, 0.6, 2.5])
def test_measures_known_skew(page: Image.Image, angle: float) -> None:
    tilted = page.rotate(angle, fillcolor=255, resample=Image.Resampling.BICUBIC)
    assert estimate_skew(tilted) == pytest.approx(angle, abs=0.15)


def test_level_and_blank_pages_are_zero(page: Image.Image) -> None:
    assert estimate_skew(page) == 0.0
    assert estimate_skew(Image.new("L", (1000, 1400), 255)) == 0.0


@pytest.mark.parametrize("rotation", [90, 270])
def test_sideways_text_is_told_from_its_ink(page: Image.Image, rotation: int) -> None:
    from ocr.deskew import text_is_vertical

    assert not text_is_vertical(page)
    assert not text_is_vertical(page.rotate(180))
    assert text_is_vertical(page.rotate(rotation, expand=True))
    assert not text_is_vertical(Image.new("L", (800, 1100), 255))  # blank: no opinion


@pytest.mark.parametrize(("rotation", "turn"), [(0, 0), (90, 90), (180, 180), (270, 270)])
def test_ink_says_how_to_turn_a_page(page: Image.Image, rotation: int, turn: int) -> None:
    """PIL turns counter-clockwise; the answer is the clockwise turn that undoes it."""
    from ocr.deskew import text_is_vertical
    from ocr.orient import turn_from_ink

    fed = page.rotate(rotation, expand=True)
    assert turn_from_ink(fed, text_is_vertical(fed)) == turn
