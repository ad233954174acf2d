"""A bulk load (``records reindex``) gives the catalog that adding records one by one gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import archive.index.textsync as textsync
from archive.index import Catalog, browse_records, search_records
from archive.index.bulkload import Entry, load
from archive.store import level_of
from tests.archive.index.test_search import DOCS

QUERIES = ("dang", "digit*", '"ho so luu tru"', "behorde OR paper", "digit* -behorde", "vault")


def entries() -> list[Entry]:
    return [Entry({"record_id": record_id, "title": title, "unit": unit, "document_type": kind,
                   "document_date": day, "classification": classification,
                   "level": level_of(classification), "signed": signed,
                   "needs_review": record_id == "VP-2024-000002", "pages": len(texts)},
                  [t.replace("\\n", "\n") for t in texts], [("2024-01-01T00:00:00Z", True)])
            for record_id, title, unit, kind, day, classification, signed, texts in DOCS]


def answers(catalog: Catalog) -> list[tuple[object, ...]]:
    return [(found.total, found.facets, found.hits) for query in QUERIES for clearance in (0, 4)
            for found in [search_records(catalog, query, clearance=clearance)]]


def test_a_bulk_load_answers_as_records_added_one_by_one(empty_catalog: Catalog) -> None:
    for entry in entries():
        empty_catalog.add(entry.row, entry.page_texts, entry.checks)
    one_by_one = answers(empty_catalog)
    assert sum(total for total, _, _ in one_by_one) > 0
    empty_catalog.drop()
    empty_catalog.create()
    loaded = load(empty_catalog, entries(), batch=2)  # three transactions, three messages
    assert loaded.records == len(DOCS)
    assert answers(empty_catalog) == one_by_one
    # Records added and replaced afterwards go into the loaded index as into any other.
    row = {**entries()[0].row, "record_id": "VP-2025-000009"}
    empty_catalog.add(row, ["Quyết định mới về lưu trữ"])
    empty_catalog.add({**entries()[4].row}, ["the vault moved"])  # replaces CRS-2021-000002
    assert search_records(empty_catalog, "moi", clearance=4).hits[0].record_id == "VP-2025-000009"
    assert search_records(empty_catalog, "plans", clearance=4).total == 0
    assert search_records(empty_catalog, "moved", clearance=4).total == 1


def test_a_bulk_load_wants_an_empty_catalog(empty_catalog: Catalog) -> None:
    load(empty_catalog, entries()[:1])
    with pytest.raises(ValueError, match="empty catalog"):
        load(empty_catalog, entries()[1:])
    assert empty_catalog.count() == 1


def test_a_load_indexes_as_it_writes(empty_catalog: Catalog,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's full-text indexes are built from the records loaded, not read back
    from the catalog after (reading back is the slow half of a PostgreSQL rebuild)."""
    monkeypatch.setattr(textsync, "_indexed", lambda *_: pytest.fail("read the catalog back"))
    load(empty_catalog, entries(), batch=2)
    assert search_records(empty_catalog, "digit*", clearance=4).total == 4


def test_a_load_that_fails_half_way_is_searched_as_far_as_it_went(
        empty_catalog: Catalog) -> None:
    """The rows of the batches written stay (a rebuild is run again); the indexes, never
    committed, are rebuilt from them by the next search, not left empty and called current."""
    def failing() -> Iterator[Entry]:
        yield from entries()[:3]
        raise OSError("the archive's disk went away")

    with pytest.raises(OSError, match="went away"):
        load(empty_catalog, failing(), batch=2)
    assert empty_catalog.count() == 2
    assert browse_records(empty_catalog, clearance=4).total == 2


def test_another_machine_searching_during_a_load_sees_all_of_it_after(
        empty_catalog: Catalog, tmp_path: Path) -> None:
    """A machine whose search came half-way through a load indexed half of it: once the
    load is done, its next search indexes the whole."""
    url = empty_catalog.engine.url.render_as_string(hide_password=False)
    other = Catalog.open(url, search_index=tmp_path / "another-machine")

    def searched_half_way() -> Iterator[Entry]:
        for number, entry in enumerate(entries()):
            if number == 3:  # the first batch of two is committed
                assert browse_records(other, clearance=4).total == 2
            yield entry

    load(empty_catalog, searched_half_way(), batch=2)
    assert browse_records(other, clearance=4).total == len(DOCS)
    other.engine.dispose()


def test_a_batch_the_database_refuses_stops_the_load_with_its_error(
        empty_catalog: Catalog) -> None:
    """The rows are written by a thread of their own: its failure (here a record id given
    twice, in two batches) reaches the caller, and nothing waits for it forever."""
    twice = [*entries(), entries()[0]]
    with pytest.raises(Exception, match=r"(?i)unique"):
        load(empty_catalog, twice, batch=2)
    assert empty_catalog.count() >= 2  # the batches before it stay, as written
