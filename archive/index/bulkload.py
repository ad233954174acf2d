"""Many records into an empty catalog at once: ``records reindex`` rebuilding it.

``Catalog.add`` takes one transaction per record, as an ingest must (about 150 records/s: 11
minutes for 100,000). A rebuild needs less care: the catalog is empty and derived, and a
rebuild that stops half-way is simply run again. So rows go in a thousand records per
transaction, and the SQLite full-text index, half of the work and all of it tokenizing, is
built at the same time by a second process in a scratch file without a journal, then copied
into the catalog's own FTS5 tables (their shadow tables hold the whole index) in one
transaction. Two cores share the work, as tantivy's indexing threads do (bench/search.py).
PostgreSQL computes its ``tsvector`` as rows arrive and takes the records one by one.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from archive.index.catalog import (
    FTS_PARTS,
    Catalog,
    key_values,
    mark_changed,
    read_package,
    record_keys,
    record_terms,
    records,
    renew_epoch,
    terms_of,
)
from archive.index.textsync import in_step
from archive.store import home_of, read_checks, record_ids

BATCH = 1000  # records per transaction and per message to the indexing process
_RECORD_COLUMNS = [c.name for c in records.columns]
_DEFAULTS = {c.name: c.default.arg for c in records.columns
             if c.default is not None and not callable(c.default.arg)}
_KEY_COLUMNS = [c.name for c in record_keys.columns if c.name != "id"]
_INSERT_RECORD = (f"INSERT INTO records ({', '.join(_RECORD_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in _RECORD_COLUMNS)})")
_INSERT_KEY = (f"INSERT INTO record_keys (id, {', '.join(_KEY_COLUMNS)}) "
               f"VALUES (?, {', '.join('?' for _ in _KEY_COLUMNS)})")
_INSERT_PAGE = "INSERT INTO pages (record_id, page, text, terms) VALUES (?, ?, ?, ?)"
_INSERT_CHECK = "INSERT INTO verifications (record_id, at, ok) VALUES (?, ?, ?)"


def rebuild(catalog: Catalog, archive: Path) -> int:
    """Drop the catalog and index every record of the archive folder; return how many."""
    catalog.drop()
    catalog.create()
    loaded = load(catalog, entries(archive)).records
    in_step(catalog)  # the full-text indexes anew here, not in the first search after
    return loaded


def entries(archive: Path) -> Iterator[Entry]:
    """Every committed record of the archive folder, as the catalog holds it."""
    checks = read_checks(home_of(archive))  # one read of the checks log, not one a record
    for record_id in record_ids(archive):
        yield Entry(*read_package(archive / record_id, checks.get(record_id, [])))


@dataclass(frozen=True)
class Entry:
    """One record to load: its ``records`` row, page texts and verifications so far."""

    row: dict[str, Any]
    page_texts: list[str]
    checks: Sequence[tuple[str, bool]] = ()
    page_terms: list[str] | None = None  # ``terms_of`` of each page, when already at hand


@dataclass
class Loaded:
    """What a load did: records loaded, and seconds per phase."""

    records: int = 0
    phases: dict[str, float] = field(default_factory=dict)


def load(catalog: Catalog, entries: Iterable[Entry], batch: int = BATCH) -> Loaded:
    """Put ``entries`` into ``catalog``, which must hold no record yet (see the module)."""
    if catalog.count():
        raise ValueError("a bulk load fills an empty catalog: drop it first (records reindex)")
    if catalog.dialect != "sqlite":
        loaded = Loaded()
        begin = time.perf_counter()
        for entry in entries:
            catalog.add(entry.row, entry.page_texts, entry.checks)
            loaded.records += 1
        loaded.phases["Catalog.add, one record at a time"] = time.perf_counter() - begin
        return loaded
    with tempfile.TemporaryDirectory(prefix="records-fts-",
                                     dir=Path(catalog.engine.url.database or ".").parent
                                     ) as scratch:
        return _load_sqlite(catalog, entries, batch, Path(scratch) / "fts.sqlite")


def _load_sqlite(catalog: Catalog, entries: Iterable[Entry], batch: int,
                 scratch: Path) -> Loaded:
    loaded = Loaded()
    begin = time.perf_counter()
    # A process of its own (not a fork of this one, which may hold threads and connections).
    indexer = subprocess.Popen([sys.executable, "-m", "archive.index.ftsindex", str(scratch)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=_child_env())
    assert indexer.stdin is not None and indexer.stdout is not None
    try:
        with _checkpointing(catalog.engine.url.database or ""):
            for count in _write_rows(catalog, entries, batch, indexer.stdin):
                loaded.records += count
        pickle.dump(None, indexer.stdin)
        indexer.stdin.close()
        loaded.phases["rows (FTS5 index built beside them)"] = time.perf_counter() - begin
        begin = time.perf_counter()
        said = indexer.stdout.read().decode(errors="replace").strip()
        if indexer.wait() != 0 or said != "indexed":
            raise RuntimeError(f"building the full-text index failed: {said}")
        loaded.phases["waiting for the FTS5 index"] = time.perf_counter() - begin
    finally:
        if indexer.poll() is None:
            indexer.kill()
            indexer.wait()
        indexer.stdout.close()
    begin = time.perf_counter()
    _copy_index(catalog, scratch)
    loaded.phases["FTS5 index copied in"] = time.perf_counter() - begin
    return loaded


def _child_env() -> dict[str, str]:
    """The environment, with this checkout first on the path (the bench runs uninstalled)."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _write_rows(catalog: Catalog, entries: Iterable[Entry], batch: int,
                indexer: BinaryIO) -> Iterator[int]:
    """Write the rows a batch per transaction, each batch's words sent to the indexer first
    so that it tokenizes while the rows are written; yield each batch's size."""
    raw = catalog.engine.raw_connection()  # plain executemany: SQLAlchemy's per-row work
    try:                                   # would double the time of the rows
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint = 0")  # _checkpointing does it meanwhile
        try:
            yield from _batches(cursor, raw, entries, batch, indexer)
        finally:
            cursor.execute("PRAGMA wal_autocheckpoint = 1000")
    finally:
        raw.close()


def _batches(cursor: Any, raw: Any, entries: Iterable[Entry], batch: int,
             indexer: BinaryIO) -> Iterator[int]:
    key = cursor.execute("SELECT coalesce(max(id), 0) FROM record_keys").fetchone()[0]
    for chunk in _chunks(entries, batch):
        rows, page_rows, key_rows, check_rows, words = [], [], [], [], []
        for entry in chunk:
            key += 1
            terms = entry.page_terms or [terms_of(t) for t in entry.page_texts]
            record_id = entry.row["record_id"]
            rows.append(tuple(entry.row.get(c, _DEFAULTS.get(c)) for c in _RECORD_COLUMNS))
            page_rows += [(record_id, number, unicodedata.normalize("NFC", page_text),
                           page_terms)
                          for number, (page_text, page_terms)
                          in enumerate(zip(entry.page_texts, terms, strict=True), 1)]
            keyed = key_values(entry.row)
            key_rows.append((key, *(keyed[c] for c in _KEY_COLUMNS)))
            check_rows += [(record_id, at, ok) for at, ok in entry.checks]
            words.append((key, record_terms(terms)))
        pickle.dump(words, indexer, protocol=pickle.HIGHEST_PROTOCOL)
        indexer.flush()
        for statement, values in ((_INSERT_RECORD, rows), (_INSERT_PAGE, page_rows),
                                  (_INSERT_KEY, key_rows), (_INSERT_CHECK, check_rows)):
            cursor.executemany(statement, values)
        raw.commit()
        yield len(chunk)


@contextmanager
def _checkpointing(path: str) -> Iterator[None]:
    """Copy the WAL into the database from a thread of its own while the rows are written.

    That copying is half of the rows' I/O; done by the writer it stalls every thousandth
    commit, while a passive checkpoint beside it never blocks the writer (SQLite's locks are
    released during the I/O, and so is the GIL).
    """
    stop = threading.Event()

    def copy() -> None:
        db = sqlite3.connect(path, check_same_thread=False)
        try:
            while not stop.wait(0.2):
                with suppress(sqlite3.OperationalError):  # busy now: next time, or the writer's
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    thread = threading.Thread(target=copy, name="records-wal-checkpoint", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _chunks(entries: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    chunk: list[Entry] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _copy_index(catalog: Catalog, scratch: Path) -> None:
    """Swap the (empty) catalog's FTS5 index for the one built in ``scratch``."""
    raw = catalog.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint = 65536")  # as the rows: fewer, larger
        cursor.execute("ATTACH DATABASE ? AS scratch", (str(scratch),))
        try:
            for part in FTS_PARTS:
                cursor.execute(f"DELETE FROM main.records_fts_{part}")
                cursor.execute(f"INSERT INTO main.records_fts_{part} "
                               f"SELECT * FROM scratch.records_fts_{part}")
            raw.commit()
        finally:
            cursor.execute("DETACH DATABASE scratch")
            cursor.execute("PRAGMA wal_autocheckpoint = 1000")
    finally:
        raw.close()
    with catalog.transaction() as db:
        mark_changed(db, removed=True)  # every copy of the keys in memory is read again
        # Full-text indexes made from the rows so far (a search during the load) are made
        # anew: the rows went in without naming themselves in the change log.
        renew_epoch(db)
