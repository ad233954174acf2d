"""The in-memory search keys."""

from __future__ import annotations

import numpy as np

from archive.index.searchkeys import CODED, NOWHERE, Keys, _yyyymmdd


def keys_of(rows: list[tuple[str, int, int]]) -> Keys:
    """Keys of (record id, date yyyymmdd or 0, level) rows at ids 1..n (0 holds nothing)."""
    size = len(rows) + 1
    return Keys(record_id=np.array([b""] + [r[0].encode() for r in rows]),
                level=np.array([NOWHERE] + [r[2] for r in rows], np.int8),
                date=np.array([0] + [r[1] for r in rows], np.int32),
                signed=np.zeros(size, bool), needs_review=np.zeros(size, bool),
                codes={name: np.zeros(size, np.int32) for name in CODED},
                names={name: ("",) for name in CODED})


def test_dates_become_numbers_and_anything_else_none() -> None:
    assert [_yyyymmdd(d) for d in ("2024-09-16", None, "", "2024-09", "16.09.2024")] == [
        20240916, 0, 0, 0, 0]
