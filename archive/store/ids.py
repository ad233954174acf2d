"""Record ids: one grammar, minted and matched here and nowhere else.

A record id is ``<UNIT>-<YEAR>-<NUMBER>``: the unit's code (1 to 16 ASCII capitals and
digits, from its name), the year of the document's date (1 to 4 digits: a letter dated in the
year 999 is ``VP-999-000001``), and a counter per unit and year of at least six digits
(``TCCT-2024-000001``). File names, URLs and the catalog all
take it as it is, so the grammar is kept narrow: nothing in an id needs escaping anywhere.
"""

from __future__ import annotations

import re
import unicodedata

RECORD_ID = re.compile(r"[A-Z0-9]{1,16}-[1-9]\d{0,3}-\d{6,}")
FIRST_YEAR, LAST_YEAR = 1, 9999


def unit_code(unit: str) -> str:
    """The unit as it prefixes record ids: ASCII letters and digits ("Tổng cục" -> TONGCUC)."""
    folded = unicodedata.normalize("NFKD", unit.replace("đ", "d").replace("Đ", "D"))
    code = re.sub(r"[^A-Z0-9]+", "", folded.encode("ascii", "ignore").decode().upper())[:16]
    return code or "UNIT"


def id_prefix(unit: str, year: int) -> str:
    """The part of an id shared by a unit's records of one year (``TCCT-2024``)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return f"{unit_code(unit)}-{year}"


def record_id(prefix: str, number: int) -> str:
    """The id of the ``number``-th record under ``prefix`` (from :func:`id_prefix`)."""
    minted = f"{prefix}-{number:06d}"
    if not is_record_id(minted):
        raise ValueError(f"{minted!r} is not a record id")
    return minted


def is_record_id(text: str) -> bool:
    """Whether ``text`` is a record id, and nothing else (no path, no spaces)."""
    return RECORD_ID.fullmatch(text) is not None
