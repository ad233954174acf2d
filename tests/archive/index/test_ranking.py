"""Relevance from what the searcher may see (SQLite): the frequencies recovered from FTS5's
bm25 are the true counts, the formula is FTS5's own, and records a searcher may not see never
change the order of the ones they do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from archive.index import Catalog, search_records
from archive.index.query import parse, positive_terms, to_fts5
from archive.index.ranking import bm25, frequencies, index_stats, lengths
from archive.store import level_of

TEXTS = ["alpha beta gamma", "alpha alpha delta kế hoạch", "omega beta",
         "alpha omega omega omega beta gamma delta digitalisation",
         "digital digital archive " * 20 + "alpha", "kế hoạch số hóa alpha beta"]


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")


def _add(catalog: Catalog, record_id: str, words: str, classification: str = "public") -> None:
    catalog.add({"record_id": record_id, "title": record_id, "unit": "VP",
                 "document_date": "2024-01-01", "classification": classification,
                 "level": level_of(classification), "signed": True, "needs_review": False,
                 "pages": 1}, [words])


@pytest.mark.parametrize("query", ["alpha", "alpha OR omega", "alpha beta", "digit*",
                                   '"ke hoach" OR omega', "alpha -delta", "alpha OR alpha"])
def test_recovered_frequencies_give_fts5s_own_scores(catalog: Catalog, query: str) -> None:
    for number, words in enumerate(TEXTS, start=1):
        _add(catalog, f"VP-2024-{number:06d}", words)
    tree = parse(query)
    phrases = [to_fts5(t) for t in positive_terms(tree)]
    with catalog.engine.connect() as db:
        theirs = dict(db.execute(text("SELECT rowid, -bm25(records_fts) FROM records_fts "
                                      "WHERE records_fts MATCH :m"), {"m": to_fts5(tree)}).all())
        ids = np.array(sorted(theirs), np.int64)
        length = lengths(db, ids)
        index = index_stats(db, phrases)
        freq = {p: frequencies(db, p, ids, length, index) for p in set(phrases)}
    ours = bm25(index, phrases, freq, length)
    assert ours.tolist() == pytest.approx([theirs[i] for i in ids.tolist()], rel=1e-9)
    assert all(float(f).is_integer() for fs in freq.values() for f in fs)


def test_the_true_counts_come_back(catalog: Catalog) -> None:
    for number, words in enumerate(TEXTS, start=1):
        _add(catalog, f"VP-2024-{number:06d}", words)
    with catalog.engine.connect() as db:
        ids = np.array([2, 4, 5], np.int64)
        length = lengths(db, ids)
        index = index_stats(db, ['"alpha"', '"digit"*'])
        assert length.tolist() == [5, 8, 61]
        assert frequencies(db, '"alpha"', ids, length, index).tolist() == [2, 1, 1]
        assert frequencies(db, '"digit"*', ids, length, index).tolist() == [0, 1, 40]


def test_records_a_searcher_may_not_see_never_reorder_their_hits(catalog: Catalog) -> None:
    """The review's case: two public letters, one holding "alpha", one "omega". Secret
    records holding "alpha" would make it rarer-looking than "omega" to the whole index, and
    swap the two for a public searcher; ranked by what they may see, nothing moves."""
    _add(catalog, "VP-2024-000001", "alpha filler words here")
    _add(catalog, "VP-2024-000002", "omega filler words here")
    _add(catalog, "VP-2024-000003", "omega unrelated text")

    def order(clearance: int) -> list[str]:
        return [h.record_id for h in
                search_records(catalog, "alpha OR omega", clearance=clearance).hits]

    before = order(0)
    assert before[0] == "VP-2024-000001"  # "alpha" is the rarer word among three letters
    for number in range(6):
        _add(catalog, f"SEC-2024-{number + 1:06d}", "alpha alpha secret", "secret")
    assert order(0) == before
    # Over the whole index (what bm25 alone would give everyone) the two public letters swap:
    # the channel this closes.
    public = [r for r in order(4) if r.startswith("VP-")]
    assert public.index("VP-2024-000002") < public.index("VP-2024-000001")
    everything = search_records(catalog, "alpha OR omega", clearance=4)
    assert everything.total == 9 and all(h.score is not None for h in everything.hits)
