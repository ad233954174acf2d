"""Measuring small skew, so text lines are level before recognition.

A projection profile (Postl's method): ink is projected onto the vertical axis at trial angles;
the angle at which text lines pile up into the sharpest peaks is the skew. On a page reduced to
1200 px wide and a fixed sample of ink, it costs tens of milliseconds, against a second for OSD
or for Tesseract itself, which is why it runs on every page.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

WORK_WIDTH = 1200
_MAX_POINTS = 40_000
_MIN_POINTS = 500


def reduced(image: Image.Image) -> Image.Image:
    """A grey copy at most 1200 px wide: every measurement here needs no more.

    The page stage reduces a page once and hands the copy to every measurement; a copy
    already reduced is returned as it is.
    """
    grey = image if image.mode == "L" else image.convert("L")
    scale = WORK_WIDTH / grey.width
    if scale >= 1.0:
        return grey
    return grey.resize((round(grey.width * scale), round(grey.height * scale)),
                       Image.Resampling.BOX)


def _ink(image: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates and darkness of inked pixels on a reduced copy of the page."""
    ink = 255 - np.asarray(reduced(image), dtype=np.float64)
    ys, xs = np.nonzero(ink > 64)
    step = max(1, len(xs) // _MAX_POINTS)  # a regular stride keeps the result deterministic
    xs, ys = xs[::step], ys[::step]
    return xs.astype(np.float64), ys.astype(np.float64), ink[ys, xs]


def _sharpness(xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, degrees: float) -> float:
    theta = np.deg2rad(degrees)
    rows = np.round(ys * np.cos(theta) - xs * np.sin(theta)).astype(np.int64)
    profile = np.bincount(rows - rows.min(), weights=weights)
    return float(np.sum(profile**2))


def _peakedness(coordinates: np.ndarray, weights: np.ndarray) -> float:
    """How much a projection piles up (1.0 for ink spread evenly, more for lines)."""
    bins = np.round(coordinates).astype(np.int64)
    profile = np.bincount(bins - bins.min(), weights=weights)
    return float(len(profile) * np.sum(profile**2) / np.sum(profile) ** 2)


def text_is_vertical(image: Image.Image) -> bool:
    """Do the text lines run up or down the page (a page fed sideways)?

    Lines of text pile ink into peaks along the axis across them: on an upright page the
    row profile is far more peaked than the column profile, on a sideways page the reverse.
    Measured on the project's letters and the corpus, upright pages score 1.2-3.4 and
    sideways ones 0.3-0.7 (row over column); below 0.8 the page is taken as sideways.
    """
    xs, ys, weights = _ink(image)
    if len(xs) < _MIN_POINTS:
        return False
    return _peakedness(ys, weights) / _peakedness(xs, weights) < 0.8


def estimate_skew(image: Image.Image, max_degrees: float = 5.0) -> float:
    """Angle in degrees, counter-clockwise, by which the text lines are rotated; 0.0 if unsure.

    Rotating the image by the negative of the result (``image.rotate(-angle)``) levels the lines.
    """
    xs, ys, weights = _ink(image)
    if len(xs) < _MIN_POINTS:  # blank or nearly blank page: nothing to measure
        return 0.0
    coarse = np.arange(-max_degrees, max_degrees + 1e-9, 0.5)
    best = coarse[int(np.argmax([_sharpness(xs, ys, weights, a) for a in coarse]))]
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.05)
    angle = -float(fine[int(np.argmax([_sharpness(xs, ys, weights, a) for a in fine]))])
    # Below a tenth of a degree resampling the page costs more than the skew does.
    return round(angle, 2) if abs(angle) >= 0.1 else 0.0
