"""One language per page: which of a batch's languages a page is written in, decided before
it is recognised.

Given several languages (``vie+deu``), Tesseract runs them as a union: for each word it
keeps the reading of whichever model is surer, so German letters get into Vietnamese words
(``TÖNG CỤC``, ``TUYEN HUÄN``) and Vietnamese marks onto German ones. A page is written in
one language, so it is read once more than it needs to be, in a band of a few body lines
with the union, and the text of the band tells the language: letters only Vietnamese
writes (ư, ơ, ă, đ and the stacked tone marks), letters only German writes (ä, ö, ü, ß),
and each language's commonest short words. The page is then recognised with that model
alone. A band that does not say clearly (too little text, or two languages close) leaves
the page to the union, as before: a wrong model would read worse than the union.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image

__all__ = ["LanguageDecision", "decide_language", "score_languages"]

BAND = 0.045
"""Height of the band read to decide, as a share of the page: two or three lines of body
text at 12 pt, enough words to tell three languages apart. Reading it costs 0.2-0.25 s on
2 cores, most of it loading the models (measured: 7% of the page, 0.3-0.44 s)."""
MIN_SCORE = 6.0
"""Evidence below which no language is decided (a page of figures, a blank, a photo)."""
MARGIN = 3.0
"""How many times the best language's evidence must outweigh the next one's."""

_ONLY_VIETNAMESE = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
_ONLY_GERMAN = set("äöüß")
_WORDS = {
    "vie": {"và", "của", "các", "được", "trong", "năm", "ngày", "việc", "cho", "với", "theo",
            "này", "những", "có", "không", "là", "đơn", "vị", "cơ", "quan"},
    "deu": {"der", "die", "das", "und", "für", "mit", "von", "den", "dem", "zu", "im", "ist",
            "nicht", "sie", "auf", "des", "bis", "wird", "werden", "ein", "eine"},
    "eng": {"the", "of", "and", "to", "in", "for", "with", "is", "on", "be", "by", "are",
            "this", "that", "from", "will", "as", "at"},
}
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class LanguageDecision:
    """The model a page is recognised with, and why."""

    language: str  # one code, or the union when nothing was decided
    source: str  # "given" (one language was allowed), "detected", "undecided"
    scores: dict[str, float] = field(default_factory=dict)


def score_languages(text: str, candidates: list[str]) -> dict[str, float]:
    """Evidence for each candidate in *text*: its own letters, and its common words twice."""
    lower = text.lower()
    words = _WORD.findall(lower)
    scores = {}
    for code in candidates:
        common = sum(word in _WORDS.get(code, ()) for word in words)
        letters = sum(c in _ONLY_VIETNAMESE for c in lower) if code == "vie" else \
            2 * sum(c in _ONLY_GERMAN for c in lower) if code == "deu" else 0
        scores[code] = float(letters + 2 * common)
    return scores


def _choose(scores: dict[str, float], union: str) -> LanguageDecision:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best, score = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if score >= MIN_SCORE and score >= MARGIN * second:
        return LanguageDecision(best, "detected", scores)
    return LanguageDecision(union, "undecided", scores)


def _band(image: Image.Image) -> Image.Image:
    """The band of the page's middle two thirds with the most ink (body lines, not the
    letterhead's capitals or a signature), its edges moved out to the gaps between lines:
    a line cut in half costs Tesseract more time than two whole ones."""
    grey = np.asarray(image.convert("L").reduce(4), dtype=np.uint8)
    ink = (grey < 128).sum(axis=1).astype(np.float64)
    height = len(ink)
    size = max(1, round(BAND * height))
    top, bottom = height // 6, max(height // 6 + 1, height * 5 // 6 - size)
    sums = np.convolve(ink, np.ones(size), mode="valid")
    start = top + int(np.argmax(sums[top:bottom])) if bottom > top and len(sums) > top else 0
    quiet = max(1.0, 0.02 * float(ink.max()))
    end = min(height, start + size)
    for _ in range(size):  # at most a band's height further: a page without gaps stops
        if start <= 0 or ink[start] <= quiet:
            break
        start -= 1
    for _ in range(size):
        if end >= height or ink[end - 1] <= quiet:
            break
        end += 1
    scale = image.height / height
    return image.crop((0, int(start * scale), image.width, min(image.height, int(end * scale))))


def decide_language(image: Image.Image, dpi: float, stage: Path, languages: str,
                    timeout: float) -> LanguageDecision:
    """The language of an upright, level page among *languages* ("vie+deu")."""
    candidates = [code for code in languages.split("+") if code]
    if len(candidates) < 2:
        return LanguageDecision(languages, "given")
    picture = stage / "band.pnm"
    _band(image).save(picture, format="PPM")
    try:
        text = pytesseract.image_to_string(
            str(picture), lang=languages, config=f"--psm 6 --dpi {round(dpi)}",
            timeout=timeout)
    except (pytesseract.TesseractError, RuntimeError, subprocess.SubprocessError, OSError):
        # The band could not be read: the page goes to the union, whose own run reports
        # what is wrong with it (a crash, the memory limit) as every page's does.
        return LanguageDecision(languages, "undecided")
    finally:
        picture.unlink(missing_ok=True)
    return _choose(score_languages(text, candidates), languages)
