"""Document numbers by their grammar: what OCR confuses in them, put right where the grammar
leaves one answer.

A Vietnamese number is ``<n>[/<year>]/<type code>-<issuer code>`` (Decree 30/2020/NĐ-CP,
appendix III), the type code from a closed list (``QĐ``, ``KH``, ``BC``, ``TTr``, ...); a
công văn has no type code: ``<n>/<issuer code>-<unit code>``. OCR confuses ``Đ`` with ``B``
and ``D``, ``O`` with ``0``, ``I`` with ``1`` and ``l``, and doubles a letter (``QĐĐ``); it
also runs the number into the place beside it (``154/BC-LT - Hà``). A code that is not in
the list is replaced by the one code it can be a misreading of, preferring the one the
letter's heading names; an issuer code by the one authority code it can be. Anything less
certain is left as read. Every correction is said, for the record's field sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from archive.index import fold

__all__ = ["TYPE_CODES", "NumberReading", "correct_code", "read_vietnamese_number"]

TYPE_CODES: dict[str, str | None] = {
    # code: the heading it goes with (None: a kind with no heading of the extractor's list)
    "QĐ": "QUYẾT ĐỊNH", "NQ": "NGHỊ QUYẾT", "CT": "CHỈ THỊ", "QC": None, "QyĐ": None,
    "TB": "THÔNG BÁO", "HD": "HƯỚNG DẪN", "CTr": None, "KH": "KẾ HOẠCH", "PA": None,
    "ĐA": None, "DA": None, "BC": "BÁO CÁO", "BB": "BIÊN BẢN", "TTr": "TỜ TRÌNH",
    "HĐ": None, "CĐ": None, "GUQ": None, "GM": None, "GGT": None, "PC": None,
    "TC": None, "BGN": None, "BTT": None, "GNP": None, "PG": None, "PB": None,
    "TT": None, "TTLT": None, "NĐ": None, "CV": None,
}
"""Type codes of administrative documents (Decree 30/2020/NĐ-CP, appendix III)."""

# Look-alikes, on folded text (lower case, no marks: Đ is d, Ö is o).
_CONFUSED = str.maketrans({"b": "d", "8": "d", "0": "o", "q": "o", "1": "i", "l": "i",
                           "|": "i", "5": "s"})
_PART = re.compile(r"[/-]")


@dataclass(frozen=True)
class NumberReading:
    value: str
    note: str | None  # what was corrected, and why; None when the number stands as read


def _shape(code: str) -> str:
    """A code as OCR might have read any of its look-alikes (marks dropped, ``Đ`` as ``B``,
    ``0`` as ``O``), doubled letters once."""
    shape = fold(code).translate(_CONFUSED)
    return re.sub(r"(.)\1+", r"\1", shape.upper())


def _one(candidates: list[str], prefer: Callable[[str], bool]) -> str | None:
    if len(candidates) > 1:
        candidates = [c for c in candidates if prefer(c)] or candidates
    return candidates[0] if len(candidates) == 1 else None


def correct_code(read: str, codes: tuple[str, ...] | list[str],
                 prefer: Callable[[str], bool] = lambda _: False,
                 near_only_if_preferred: bool = False) -> str | None:
    """The one code of *codes* that *read* is a misreading of, or None: the same look-alike
    shape first, else one letter more, less or other (codes of three letters and more:
    shorter ones leave too many fits; with *near_only_if_preferred*, only a preferred one)."""
    same = [c for c in codes if _shape(c) == _shape(read)]
    if same:
        return _one(list(dict.fromkeys(same)), prefer)
    if len(read) < 3:
        return None
    near = [c for c in codes if len(c) >= 3 and Levenshtein.distance(
        _shape(c), _shape(read)) <= 1]
    if near_only_if_preferred:
        near = [c for c in near if prefer(c)]
    return _one(list(dict.fromkeys(near)), prefer)


def _code_like(part: str) -> bool:
    """A part a number can hold: digits, or a code led by a capital (``TTr``, ``QyĐ``,
    ``TTg``). A place name run into the number (``Hà``, ``Huế``) has a small letter with a
    mark, which no code has."""
    capital = part[:1].isupper() or (part[:1].isdigit() and any(c.isupper() for c in part))
    return part.isdigit() or (capital and part.isalnum()  # "8QP": BQP, its B misread
                              and not any(c.islower() and not c.isascii() for c in part))


def _unglued(code: str, issuer_codes: tuple[str, ...]) -> tuple[str, str] | None:
    """A type code and one of the issuer's codes run together, when that is the one way
    to split *code*."""
    splits = [(code[:n], code[n:]) for n in range(1, len(code))
              if code[:n] in TYPE_CODES and code[n:] in issuer_codes]
    return splits[0] if len(splits) == 1 else None


def read_vietnamese_number(raw: str, heading: str | None,
                           is_issuer_code: Callable[[str], bool] | None = None,
                           issuer_codes: tuple[str, ...] = ()) -> NumberReading:
    """The number *raw* by its grammar: trailing words that are not part of it cut off, and
    a misread type or issuer code corrected when only one code fits (*heading*: the
    letter's kind, to choose between fits; *is_issuer_code*: whether the authority list
    knows a code; *issuer_codes*: the codes of the issuer the letterhead named, the only
    ones a misread issuer code is put right to)."""
    parts = _PART.split(raw)
    seps = _PART.findall(raw)
    keep = 1
    while keep < len(parts) and _code_like(parts[keep]):
        keep += 1
    if not parts[0].isdigit() or keep < 2:
        return NumberReading(raw, None)
    parts, seps = parts[:keep], seps[:keep - 1]
    notes = []
    if keep < len(_PART.split(raw)):
        notes.append(f"{raw!r} cut to its number")
    at = 2 if len(parts) > 2 and re.fullmatch(r"(19|20)\d\d", parts[1]) else 1
    code = parts[at]
    known = is_issuer_code or (lambda _: False)
    glued = _unglued(code, issuer_codes) if at == len(parts) - 1 and not known(code) \
        and code not in TYPE_CODES else None
    if glued:  # "894/KHDNG": the hyphen lost between the type code and the issuer's
        notes.append(f"{code!r} read as {glued[0]!r}-{glued[1]!r} (a type code and the "
                     "issuer's code, the hyphen lost)")
        parts[at:at + 1] = list(glued)
        seps.insert(at, "-")
        code = parts[at]
    elif code not in TYPE_CODES and not known(code) and at == len(parts) - 2 and \
            (fit := correct_code(code, issuer_codes)):
        # A công văn's first code is its issuer's ("1971/7DNG-KH": a speck before DNG).
        notes.append(f"issuer code {code!r} read as {fit!r} (the authority list)")
        parts[at] = code = fit
    if code not in TYPE_CODES and not known(code):
        named = [c for c, kind in TYPE_CODES.items() if heading is not None and kind == heading]
        # Look-alikes from the whole list; one letter off only when the heading names it
        # (a công văn's issuer code, "TCCT", is one letter off "TTLT").
        fit = correct_code(code, list(TYPE_CODES), lambda c: c in named,
                           near_only_if_preferred=True)
        if fit is not None and named and fit not in named:
            fit = None  # a look-alike of another kind than the heading says: not sure
        if fit is None and len(named) == 1 and len(code) >= 3 and code.isalpha() and \
                Levenshtein.distance(_shape(named[0]), _shape(code)) <= 1:
            fit = named[0]  # "TIT" under the heading TỜ TRÌNH: TTr
        if fit and fit.replace("Đ", "D") != code:  # "QD" is QĐ written without marks
            notes.append(f"type code {code!r} read as {fit!r} (the list of type codes"
                         f"{', and the heading' if fit in named else ''})")
            parts[at] = fit
    last = len(parts) - 1
    # A joint act names several issuers ("12/2020/TTLT-BTC-BTP"): none is corrected to one.
    if last == at + 1 and issuer_codes and not known(parts[last]):
        fit = correct_code(parts[last], issuer_codes)
        if fit:
            notes.append(f"issuer code {parts[last]!r} read as {fit!r} (the authority list)")
            parts[last] = fit
    value = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=True))
    return NumberReading(value, "; ".join(notes) or None)
