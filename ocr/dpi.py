"""Deciding a scan's resolution from evidence, and saying which evidence was used.

Scanners lie: TIFFs claim 1 dpi, EXIF divides by zero, PNGs carry nothing. A tag is believed
only within 70-1200 dpi; otherwise a page whose pixel size matches a standard paper size at a
common scanning resolution gives the answer; otherwise the configured default is used.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_DPI, MAX_DPI = 70.0, 1200.0
# Paper sizes in inches (portrait); orientation is checked both ways.
_PAPER = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0), "Legal": (8.5, 14.0),
          "A3": (11.69, 16.54), "A5": (5.83, 8.27)}
_COMMON_DPI = (150, 200, 240, 300, 400, 600)


@dataclass(frozen=True)
class Resolution:
    x: float
    y: float
    source: str  # "tag", "page-size" or "default"

    @property
    def square(self) -> float:
        """The resolution OCR works at: the finer axis, so nothing is lost in resampling."""
        return max(self.x, self.y)


def _believable(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if MIN_DPI <= number <= MAX_DPI else None


def from_page_size(width_px: int, height_px: int, tolerance: float = 0.02) -> float | None:
    """The common resolution at which these pixels make a standard sheet, if any."""
    for dpi in _COMMON_DPI:
        w_in, h_in = width_px / dpi, height_px / dpi
        for pw, ph in _PAPER.values():
            for a, b in ((pw, ph), (ph, pw)):
                if abs(w_in - a) <= a * tolerance and abs(h_in - b) <= b * tolerance:
                    return float(dpi)
    return None


def decide(tag: object, width_px: int, height_px: int, default: int) -> Resolution:
    """Resolution of an image page from its tag (x, y), its size, or the default."""
    x = y = None
    if isinstance(tag, tuple | list) and len(tag) == 2:
        x, y = _believable(tag[0]), _believable(tag[1])
    if x and y:
        return Resolution(x, y, "tag")
    guessed = from_page_size(width_px, height_px)
    if guessed:
        return Resolution(guessed, guessed, "page-size")
    return Resolution(float(default), float(default), "default")
