"""Scoring recognised text against ground truth, the same way in tests and benchmarks.

Character error rate after Unicode NFC and whitespace folding: layout is not what OCR is
scored on, the letters are. Totals are kept so rates can be micro-averaged (total edits over
total truth characters), which a mean of per-page rates is not.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

_WHITESPACE = re.compile(r"\s+")
# A word broken at a line end: "recog-\nnised". Soft hyphen and U+2010 count as hyphens too.
_EOL_HYPHEN = re.compile(r"(\w)[-\u00ad\u2010][ \t]*\r?\n\s*(\w)")


def join_eol_hyphens(text: str) -> str:
    """Undo end-of-line hyphenation, for ground truth that was written without it."""
    return _EOL_HYPHEN.sub(r"\1\2", text)


def normalise(text: str, *, join_hyphens: bool = False) -> str:
    """NFC, whitespace runs as one space, trimmed."""
    text = unicodedata.normalize("NFC", text)
    if join_hyphens:
        text = join_eol_hyphens(text)
    return _WHITESPACE.sub(" ", text).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions each cost one."""
    return int(Levenshtein.distance(a, b))


def cer(truth: str, hypothesis: str, *, join_hyphens: bool = False) -> float:
    """Character error rate of *hypothesis* against *truth*, both normalised."""
    expected = normalise(truth)
    errors = edit_distance(normalise(hypothesis, join_hyphens=join_hyphens), expected)
    return errors / len(expected) if expected else float(errors > 0)
