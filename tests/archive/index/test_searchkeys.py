"""The in-memory search keys: the head of an order is the head of the full sort."""

from __future__ import annotations

import random

import numpy as np
import pytest

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


@pytest.mark.parametrize("seed", range(20))
def test_the_head_is_the_full_sort_cut(seed: int) -> None:
    rng = random.Random(seed)
    rows = [(f"U-{rng.randrange(10**6):06d}-{n}", rng.choice([0, 20240101, 20240102, 20231231]),
             rng.randrange(5)) for n in range(rng.randrange(1, 300))]
    keys = keys_of(rows)
    ids = np.arange(1, len(rows) + 1)
    scores = np.array([rng.choice([0.5, 1.0, 1.5, rng.random()]) for _ in rows])
    stop = rng.randrange(1, 40)
    by_date = sorted(ids.tolist(), key=lambda i: (-rows[i - 1][1], rows[i - 1][0]))
    assert keys.newest(ids, stop).tolist() == by_date[:stop]
    by_score = sorted(ids.tolist(), key=lambda i: (-scores[i - 1], rows[i - 1][0]))
    assert keys.best(ids, scores, stop).tolist() == by_score[:stop]


def test_clearance_and_filters_make_one_mask() -> None:
    keys = keys_of([("A", 20240101, 0), ("B", 0, 1), ("C", 20230505, 4)])
    assert keys.visible(0, {}).tolist() == [False, True, False, False]
    assert keys.visible(4, {}).tolist() == [False, True, True, True]
    assert keys.visible(4, {"date_to": 20231231}).tolist() == [False, False, False, True]
    assert keys.visible(4, {"date_from": 20230101}).tolist() == [False, True, False, True]
    assert keys.visible(4, {"unit": "nowhere"}).tolist() == [False] * 4
    with pytest.raises(ValueError, match="no search key"):
        keys.visible(4, {"colour": "red"})
    assert keys.years(np.array([1, 2, 3])) == {"": 1, "2023": 1, "2024": 1}


def test_dates_become_numbers_and_anything_else_none() -> None:
    assert [_yyyymmdd(d) for d in ("2024-09-16", None, "", "2024-09", "16.09.2024")] == [
        20240916, 0, 0, 0, 0]
