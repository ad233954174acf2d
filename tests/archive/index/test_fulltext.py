"""The full-text engine (tantivy, one index per level): exact totals and facets within the
clearance, a ranking that records above the searcher's clearance cannot move, records that
change level leave the index they were in, and the date and title orders."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archive.index.catalog import terms_of
from archive.index.fulltext import FullText, Indexed, Narrowing, tiebreak, title_key
from archive.index.query import parse

WORDS = ("quyet", "dinh", "luu", "tru", "ho", "so", "van", "ban", "cong", "tac", "ke", "hoach",
         "bao", "cao", "thong", "tin", "behorde", "bescheid", "akte", "archiv", "record",
         "office", "letter", "plan")


def record(row: int, level: int = 0, words: str = "", *, unit: str = "VP", day: int = 20240101,
           title: str = "Letter", rng: random.Random | None = None) -> Indexed:
    rng = rng or random.Random(row)
    text = words or " ".join(rng.choices(WORDS, k=rng.randint(20, 60)))
    return Indexed(record_id=f"{unit}-2024-{row:06d}", level=level, unit=unit,
                   series="", document_type="QĐ" if row % 2 else "CV",
                   classification=("public", "internal", "restricted", "confidential",
                                   "secret")[level],
                   day=day, signed=row % 3 != 0, needs_review=row % 5 == 0,
                   title_key=title_key(terms_of(title), title, f"{unit}-2024-{row:06d}"),
                   terms=text)


def everyone(count: int, levels: tuple[int, ...] = (0, 1, 4)) -> list[Indexed]:
    rng = random.Random(7)
    return [record(row, levels[row % len(levels)], rng=rng, day=20200101 + row % 28)
            for row in range(1, count + 1)]


@pytest.fixture
def engine(tmp_path: Path) -> FullText:
    return FullText(tmp_path / "fulltext")


def test_totals_and_facets_are_exact_within_the_clearance(engine: FullText) -> None:
    records = everyone(300)
    engine.apply(records, [])
    for clearance in (0, 1, 4):
        for word in ("luu", "akte", "record"):
            seen = [r for r in records if r.level <= clearance and word in r.terms.split()]
            found = engine.search(parse(word), clearance, Narrowing(), "relevance", (0, 10))
            assert found.total == len(seen), (clearance, word)
            assert sum(found.facets["classification"].values()) == len(seen)
            assert found.facets["signed"].get("signed", 0) == sum(r.signed for r in seen)
            assert {r for r, _ in found.shown} <= {r.record_id for r in seen}
            assert [s for _, s in found.shown] == sorted((s for _, s in found.shown),
                                                         reverse=True)


def test_records_above_the_clearance_never_move_the_ranking(tmp_path: Path) -> None:
    """A public searcher's hits and scores are the same whether or not secret records
    holding the word exist: nothing in the ranking tells them such records are there."""
    public = [record(row, 0, rng=random.Random(row)) for row in range(1, 80)]
    secret = [record(row, 4, "luu " * 40 + "tru", rng=random.Random(row))
              for row in range(100, 400)]
    alone, beside = FullText(tmp_path / "alone"), FullText(tmp_path / "beside")
    alone.apply(public, [])
    beside.apply(public + secret, [])
    for query in ("luu", "luu tru", '"luu tru"', "luu OR akte"):
        tree = parse(query)
        first = alone.search(tree, 0, Narrowing(), "relevance", (0, 20))
        second = beside.search(tree, 0, Narrowing(), "relevance", (0, 20))
        assert second.shown == first.shown and second.total == first.total, query
    cleared = beside.search(parse("luu"), 4, Narrowing(), "relevance", (0, 20))
    assert cleared.total > first.total and cleared.facets["classification"]["secret"] == 300


def test_a_record_that_changes_level_leaves_the_index_it_was_in(engine: FullText) -> None:
    one = record(1, 0, "bescheid akte")
    engine.apply([one, record(2, 0, "akte")], [])
    assert engine.search(parse("bescheid"), 0, Narrowing(), "relevance", (0, 5)).total == 1
    raised = Indexed(**{**one.__dict__, "level": 4, "classification": "secret"})
    engine.apply([raised], [])
    assert engine.search(parse("bescheid"), 0, Narrowing(), "relevance", (0, 5)).total == 0
    assert engine.search(parse("akte"), 0, Narrowing(), "relevance", (0, 5)).total == 1
    assert engine.search(parse("bescheid"), 4, Narrowing(), "relevance", (0, 5)).shown[0][0] \
        == one.record_id
    engine.apply([], [one.record_id])  # taken out of the catalog
    assert engine.search(parse("bescheid"), 4, Narrowing(), "relevance", (0, 5)).total == 0


def test_dates_and_titles_order_with_the_undated_and_untitled_last(engine: FullText) -> None:
    records = [record(1, 0, "akte", day=20230105, title="Zeugnis"),
               record(2, 1, "akte", day=0, title="Ärger"),
               record(3, 0, "akte", day=20240101, title="Đơn xin"),
               record(4, 0, "akte", day=20230105, title="")]
    engine.apply(records, [])

    def ids(order: str, tree: str | None = "akte") -> list[str]:
        found = engine.search(parse(tree) if tree else None, 1, Narrowing(), order, (0, 10))
        return [r[-1] for r, _ in found.shown]

    assert ids("newest") == ["3", "1", "4", "2"]  # equal dates: by record id
    assert ids("oldest") == ["1", "4", "3", "2"]
    assert ids("title") == ["2", "3", "1", "4"]  # folded: Ä with A, Đ with D; untitled last
    assert ids("newest", None) == ids("newest")  # browsing: every record
    assert engine.search(None, 1, Narrowing(), "newest", (1, 3)).shown == [
        (r.record_id, None) for r in (records[0], records[3])]


def test_narrowing_by_stored_values(engine: FullText) -> None:
    records = everyone(120)
    engine.apply(records, [])
    wanted = Narrowing(values={"document_type": ("QĐ",)}, signed=True, day_from=20200105,
                       day_to=20200110, needs_review=False)
    found = engine.search(parse("luu"), 4, wanted, "relevance", (0, 200))
    expected = {r.record_id for r in records if r.document_type == "QĐ" and r.signed
                and 20200105 <= r.day <= 20200110 and not r.needs_review
                and "luu" in r.terms.split()}
    assert {r for r, _ in found.shown} == expected and found.total == len(expected)
    nothing = Narrowing(values={"unit": ()})  # a typed unit that names no stored value
    assert engine.search(parse("luu"), 4, nothing, "relevance", (0, 5)).total == 0


def test_a_prefix_ranks_by_the_words_it_starts(engine: FullText) -> None:
    """``digit*`` matches every word it starts, each scored as that word alone would be: a
    record holding the rare ``digitisation`` comes before those holding the common
    ``digital``."""
    common = [record(row, 0, "digital archive record office") for row in range(1, 40)]
    rare = record(50, 0, "digitisation of the record office")
    engine.apply([*common, rare, record(60, 0, "nothing to see")], [])
    found = engine.search(parse("digit*"), 0, Narrowing(), "relevance", (0, 50))
    assert found.total == 40 and found.shown[0][0] == rare.record_id
    assert found.shown[0][1] > found.shown[1][1] > 0


def test_a_count_alone_lists_nothing(engine: FullText) -> None:
    engine.apply(everyone(30), [])
    for order in ("relevance", "newest", "title"):
        found = engine.search(parse("luu"), 4, Narrowing(), order, (0, 0))
        assert found.total > 0 and found.shown == []


def test_a_record_raised_out_of_an_index_no_longer_weighs_its_words(tmp_path: Path) -> None:
    """Raised to secret, a record leaves the public index, where tantivy keeps counting it
    (deleted) until its segments merge: a public searcher's ranking is as if it had never
    been public. (Its length still counts in the index's average length until then: scores
    move by a few per cent, not by the word's weight.)"""
    public = [record(row, 0, rng=random.Random(row)) for row in range(1, 30)]
    raised = [record(row, 0, "bescheid " * 30) for row in range(40, 60)]
    before, after = FullText(tmp_path / "before"), FullText(tmp_path / "after")
    before.apply(public, [])
    after.apply(public + raised, [])
    after.apply([Indexed(**{**r.__dict__, "level": 4, "classification": "secret"})
                 for r in raised], [])
    for query in ("bescheid", "luu OR bescheid", "bes*"):
        first = before.search(parse(query), 0, Narrowing(), "relevance", (0, 30))
        second = after.search(parse(query), 0, Narrowing(), "relevance", (0, 30))
        was, now = dict(first.shown), dict(second.shown)
        assert now.keys() == was.keys() and second.total == first.total, query
        assert all(abs((now[r] or 0) - (was[r] or 0)) <= 0.05 * (was[r] or 1) for r in was), query


def test_equal_scores_show_the_same_records_however_the_index_was_built(
        tmp_path: Path) -> None:
    """Records scoring alike come in one order (their ids' digests), across the window's
    edges too: two machines (or backends) whose indexes were written in another order and in
    other segments show the same page of hits."""
    alike = [record(row, 0, "luu tru ho so") for row in range(1, 41)]
    other = [record(row, 0, f"van ban {row}") for row in range(41, 61)]
    one, two = FullText(tmp_path / "one"), FullText(tmp_path / "two")
    one.apply(alike + other, [])
    shuffled = alike[:]
    random.Random(3).shuffle(shuffled)
    for start in range(0, len(shuffled), 7):  # one commit, one segment, per slice
        two.apply(shuffled[start:start + 7], [])
    two.apply(other, [])
    expected = sorted((r.record_id for r in alike), key=tiebreak)
    for window in ((0, 10), (5, 15), (30, 45)):
        shown = [[r for r, _ in engine.search(parse("luu"), 0, Narrowing(), "relevance",
                                              window).shown] for engine in (one, two)]
        assert shown[0] == shown[1] == expected[window[0]:window[1]], window
