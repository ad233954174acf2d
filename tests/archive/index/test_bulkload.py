"""A bulk load (``records reindex``) gives the catalog that adding records one by one gives."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

import archive.index.bulkload as bulkload
from archive.index import Catalog, search_records
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
    if empty_catalog.dialect == "sqlite":
        with empty_catalog.engine.connect() as db:  # FTS5's own check of the copied index
            db.execute(text("INSERT INTO records_fts(records_fts) VALUES ('integrity-check')"))
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


def test_the_indexing_process_reports_its_failure(empty_catalog: Catalog,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed index fails the load with the indexer's own words."""
    if empty_catalog.dialect != "sqlite":
        pytest.skip("PostgreSQL loads without an indexing process")
    monkeypatch.setattr(bulkload, "_copy_index", lambda *_: pytest.fail("copied a failed index"))
    real = subprocess.Popen

    def indexer_on_a_folder(args: list[str], **kwargs: object) -> subprocess.Popen:
        return real([*args[:-1], str(Path(args[-1]).parent)], **kwargs)  # no database file

    monkeypatch.setattr(bulkload.subprocess, "Popen", indexer_on_a_folder)
    with pytest.raises(RuntimeError, match=r"(?s)index failed: .*unable to open database"):
        load(empty_catalog, entries())
