"""Turning pages fed sideways or upside down upright: cues from the ink, then Tesseract's OSD.

OSD costs as much as recognising the page (about a second: it loads its own model and
analyses the layout), which is where OCRmyPDF's ``--rotate-pages`` spends its time. The page
stage first reads the orientation from the ink in milliseconds (which way lines run, which
side of them carries more ink) and asks OSD only when those cues are unsure. Recognition
confidence has the last word: a page that still reads badly is tried the other way up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image

from ocr.deskew import reduced
from ocr.errors import OcrFailed


@dataclass(frozen=True)
class Orientation:
    rotate: int  # degrees clockwise that turn the page upright: 0, 90, 180, 270
    confidence: float


def detect_orientation(image_path: Path, timeout: float) -> Orientation:
    """Ask OSD how to turn the page; a page with too little text answers 'as it lies'."""
    try:
        osd = pytesseract.image_to_osd(
            str(image_path), config="--psm 0", timeout=timeout,
            output_type=pytesseract.Output.DICT,
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrFailed("Tesseract is not installed or not on PATH") from exc
    except pytesseract.TesseractError:
        # "Too few characters": OSD cannot judge; recognition's result stands.
        return Orientation(0, 0.0)
    except RuntimeError as exc:
        raise OcrFailed(f"orientation detection timed out after {timeout:.0f} s") from exc
    return Orientation(int(osd["rotate"]) % 360, float(osd["orientation_conf"]))


_SURE = 0.25  # |cue| below this is no opinion: the page goes to OSD or recognition decides


def upright_cue(image: Image.Image) -> float:
    """How upright a page with level, horizontal lines looks, from -1 (upside down) to 1.

    Latin-script lines carry more ink above their x-height band (ascenders, capitals, and in
    Vietnamese the tone marks) than below it (descenders). Upside down, the reverse. Measured
    on the project's letters (0.71-0.90) and the corpus's book, brochure and Vietnamese pages
    (mostly 0.3-0.8; a few with borders or pictures near 0, one at -0.34), it is a cheap first
    opinion, which recognition confidence then confirms.
    """
    grey = reduced(image)
    ink = 255 - np.asarray(grey, dtype=np.float64)
    ys, xs = np.nonzero(ink > 96)
    if len(ys) < 500:
        return 0.0
    profile = np.bincount(ys, weights=ink[ys, xs], minlength=grey.height)
    above = below = 0.0
    for start, stop in _runs(profile > 0.05 * profile.max()):
        line = profile[start:stop]
        if len(line) < 4:
            continue
        core = np.nonzero(line >= 0.5 * line.max())[0]
        above += float(line[: core[0]].sum())
        below += float(line[core[-1] + 1:].sum())
    return (above - below) / (above + below) if above + below else 0.0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D mask."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True))


def turn_from_ink(image: Image.Image, vertical: bool) -> int | None:
    """Degrees clockwise that make the page upright, judged from its ink; None if unsure.

    *vertical* says whether its lines run up or down the page (``deskew.text_is_vertical``).
    """
    if vertical:
        cue = upright_cue(image.rotate(-90, expand=True))
        return 90 if cue >= _SURE else 270 if cue <= -_SURE else None
    cue = upright_cue(image)
    return 0 if cue >= _SURE else 180 if cue <= -_SURE else None
