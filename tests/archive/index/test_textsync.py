"""The full-text indexes in step with one PostgreSQL catalog, searched by several processes on
"several machines" (folders of their own) and two on one machine (one folder, one lock),
while another process ingests records and raises some to secret: no search ever shows or
counts a record that was secret before it began, and when ingest stops every process answers
exactly what the catalog holds."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import tantivy
from sqlalchemy import insert, select, update

import archive.index.textsync as textsync
from archive.index import Catalog, SearchIndexBusy, browse_records, search_records
from archive.index.bulkload import Entry, load
from archive.index.catalog import catalog_state, records, renew_epoch
from tests.conftest import new_database

SECONDS = 8.0


def start(role: str, url: str, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.archive.index.concurrent_search", role, url, str(folder),
         str(SECONDS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outcome(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_searchers_never_see_above_their_clearance_while_records_change(
        postgres_url: str, tmp_path: Path) -> None:
    url = new_database(postgres_url, "records_textsync")
    Catalog.open(url).engine.dispose()  # the tables, before the processes race to make them
    machine_a, machine_b = tmp_path / "machine-a", tmp_path / "machine-b"
    searchers = [start("searcher", url, machine_a), start("searcher", url, machine_a),
                 start("searcher", url, machine_b)]
    written = outcome(start("writer", url, tmp_path / "writer"))
    (tmp_path / "writer.done").touch()
    answers = [outcome(s) for s in searchers]

    catalog = Catalog.open(url, search_index=tmp_path / "check")
    with catalog.engine.connect() as db:
        public = sorted(db.execute(select(records.c.record_id).where(records.c.level == 0))
                        .scalars())
    catalog.engine.dispose()
    assert written["raised"] > 10 and len(public) == written["added"] - written["raised"]
    for answer in answers:
        assert answer["violations"] == [], answer["violations"]
        assert answer["searches"] > 5  # searched while the writer wrote
        assert (answer["total"], answer["shown"]) == (len(public), public)


def row(number: int, classification: str = "public") -> dict[str, object]:
    return {"record_id": f"VP-2024-{number:06d}", "title": f"Akte {number}", "unit": "VP",
            "document_date": "2024-01-01", "classification": classification,
            "level": ("public", "internal", "restricted", "confidential",
                      "secret").index(classification),
            "signed": True, "needs_review": False, "pages": 1}


def public_total(catalog: Catalog) -> int:
    return search_records(catalog, "archiv", clearance=0).total


def test_a_catalog_restored_behind_the_indexes_is_indexed_anew(empty_catalog: Catalog) -> None:
    """Restored from last night's backup, the catalog's generation is behind what the
    indexes hold; its next changes reuse those generations. A record raised after the
    restore must still leave the public index."""
    for number in (1, 2, 3):
        empty_catalog.add(row(number), ["Das Archiv der Behörde"])
    assert public_total(empty_catalog) == 3
    with empty_catalog.transaction() as db:  # the restore: two changes back
        db.execute(update(catalog_state).values(generation=catalog_state.c.generation - 2))
    empty_catalog.restrict("VP-2024-000001", "secret")
    assert public_total(empty_catalog) == 2


def test_a_bulk_load_after_a_search_is_searched_whole(tmp_path: Path) -> None:
    """A search while `records reindex` loads (the web app may go on) indexes the rows so
    far; the load's end makes every machine index the catalog anew."""
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    assert public_total(catalog) == 0  # the indexes made, of an empty catalog
    load(catalog, [Entry(row(number), ["Das Archiv der Behörde"]) for number in range(1, 6)])
    assert public_total(catalog) == 5
    catalog.engine.dispose()


def test_a_search_during_a_rebuild_says_so_instead_of_hanging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process rebuilding the indexes (records reindex) holds their lock for minutes:
    a search that needs them waits a while, then says why it cannot answer, in one line."""
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.add({"record_id": "VP-2024-000001", "title": "t", "unit": "VP",
                 "classification": "public", "level": 0}, ["Quyết định"])
    monkeypatch.setattr(textsync, "LOCK_WAIT_SECONDS", 0.3)
    folder = catalog.fulltext().folder
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as rebuilding:
        fcntl.flock(rebuilding, fcntl.LOCK_EX)
        with pytest.raises(SearchIndexBusy, match=r"^search is unavailable while its index is "
                                                  r"rebuilt \(records reindex\); try again"):
            search_records(catalog, "quyet")
    assert search_records(catalog, "quyet").total == 1  # once the rebuild is done


def test_indexes_of_an_earlier_format_are_made_anew(tmp_path: Path) -> None:
    """Indexes written by an earlier version (another schema, which tantivy refuses to open
    with this one) are replaced by the first search, not an error on every search."""
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.add({"record_id": "VP-2024-000001", "title": "t", "unit": "VP",
                 "classification": "public", "level": 0}, ["Quyết định"])
    folder = catalog.fulltext().folder
    folder.mkdir(parents=True)
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", tokenizer_name="whitespace")
    builder.add_text_field("record_id", stored=True, tokenizer_name="raw")
    (folder / "level-0").mkdir()
    old = tantivy.Index(builder.build(), path=str(folder / "level-0"))
    writer = old.writer()
    writer.add_document(tantivy.Document(terms="cu", record_id="VP-2024-000009"))
    writer.commit()
    (folder / "state.json").write_text(json.dumps({"epoch": "old", "generation": 0}))
    fresh = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    assert [h.record_id for h in search_records(fresh, "quyet").hits] == ["VP-2024-000001"]
    assert search_records(fresh, "cu").total == 0


def _meanwhile(monkeypatch: pytest.MonkeyPatch, happen: Callable[[], None]) -> None:
    """Run ``happen`` once, as if another process acted while this one waited for the lock."""
    real = textsync._locked
    pending = [happen]

    @contextmanager
    def locked(folder: Path, wait: float | None = None) -> Iterator[None]:
        while pending:
            pending.pop()()
        with real(folder, wait):
            yield

    monkeypatch.setattr(textsync, "_locked", locked)


def _public(catalog: Catalog, number: int, words: str) -> None:
    catalog.add({"record_id": f"VP-2024-{number:06d}", "title": "t", "unit": "VP",
                 "classification": "public", "level": 0}, [words])


def test_indexes_brought_up_to_date_while_a_search_waited_are_not_rebuilt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog, other = Catalog.open(url), Catalog.open(url)
    _public(catalog, 1, "quyet dinh")
    search_records(catalog, "quyet")
    _public(catalog, 2, "quyet dinh")  # pending for this process's next search

    def another_process_adds_and_searches() -> None:
        _public(other, 3, "quyet dinh")
        search_records(other, "quyet")  # the indexes now hold more than this one read

    _meanwhile(monkeypatch, another_process_adds_and_searches)
    monkeypatch.setattr(textsync, "_rebuild", lambda *_: pytest.fail("rebuilt everything"))
    assert search_records(catalog, "quyet").total == 3


def test_a_load_that_ended_while_a_search_waited_is_indexed_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The indexes held one epoch with a change pending; while the search waited, rows were
    written without naming themselves and the epoch renewed (the end of a bulk load): the
    search indexes the catalog anew rather than apply the change log to the old epoch."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = Catalog.open(url)
    _public(catalog, 1, "quyet dinh")
    search_records(catalog, "quyet")
    _public(catalog, 2, "quyet dinh")

    def a_load_ends() -> None:
        with catalog.transaction() as db:
            db.execute(insert(records).values(record_id="VP-2024-000003", title="t", unit="VP",
                                              classification="public", level=0))
            renew_epoch(db)

    _meanwhile(monkeypatch, a_load_ends)
    assert browse_records(catalog, clearance=0).total == 3


def test_a_load_refuses_a_catalog_an_ingest_filled_while_it_waited(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The emptiness is checked again once the indexes are held: a record ingested in
    between would be in the catalog and in no index."""
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    _meanwhile(monkeypatch, lambda: _public(catalog, 1, "quyet dinh"))
    entry = Entry({"record_id": "VP-2024-000002", "title": "t", "unit": "VP",
                   "classification": "public", "level": 0}, ["van ban"])
    with pytest.raises(ValueError, match="empty catalog"):
        load(catalog, [entry])
    assert search_records(catalog, "quyet").total == 1
