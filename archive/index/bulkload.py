"""Many records into an empty catalog at once: ``records reindex`` rebuilding it.

``Catalog.add`` takes one transaction per record, as an ingest must. A rebuild needs less
care: the catalog is empty and derived, and a rebuild that stops half-way is simply run again.
So rows go in a thousand records per transaction (SQLite: plain ``executemany``; PostgreSQL:
``COPY``), written by a thread of their own while the next thousand are prepared, and this
machine's full-text indexes are built from the same records as they go
(``textsync.rebuilding``): the database and tantivy's indexing threads work at once, and
nothing is read back. Other machines' indexes see a new epoch and rebuild from the catalog on
their next search.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.index.catalog import Catalog, read_package, records, terms_of
from archive.index.textsync import in_step, rebuilding
from archive.store import home_of, read_checks, record_ids

BATCH = 1000  # records per transaction
_RECORD_COLUMNS = [c.name for c in records.columns]
_DEFAULTS = {c.name: c.default.arg for c in records.columns
             if c.default is not None and not callable(c.default.arg)}
_PAGE_COLUMNS = ("record_id", "page", "text", "terms")
_CHECK_COLUMNS = ("record_id", "at", "ok")


def rebuild(catalog: Catalog, archive: Path) -> int:
    """Drop the catalog and index every record of the archive folder; return how many."""
    catalog.drop()
    catalog.create()
    loaded = load(catalog, entries(archive)).records
    in_step(catalog)  # changes committed by others during the load, applied here
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

    def timed(self, phase: str, begin: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - begin


@dataclass
class _Rows:
    """One batch of rows for the catalog's tables."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    pages: list[tuple[Any, ...]] = field(default_factory=list)
    checks: list[tuple[Any, ...]] = field(default_factory=list)


Writer = Callable[[_Rows], None]


def load(catalog: Catalog, entries: Iterable[Entry], batch: int = BATCH) -> Loaded:
    """Put ``entries`` into ``catalog``, which must hold no record yet (see the module)."""
    if catalog.count():
        raise ValueError("a bulk load fills an empty catalog: drop it first (records reindex)")
    loaded = Loaded()
    writer = _sqlite_writer if catalog.dialect == "sqlite" else _copy_writer
    with rebuilding(catalog) as index, _behind(catalog, writer) as write:
        if catalog.count():  # again, now that the indexes are held: an ingest came between
            raise ValueError("a bulk load fills an empty catalog: drop it first "
                             "(records reindex)")
        for chunk in _chunks(entries, batch):
            begin = time.perf_counter()
            rows, words = _rows_of(chunk)
            loaded.timed("rows prepared (words folded where not given)", begin)
            begin = time.perf_counter()
            write(rows)
            loaded.timed("waiting for the rows' writer", begin)
            begin = time.perf_counter()
            for entry, page_terms in zip(chunk, words, strict=True):
                index(entry.row, page_terms)
            loaded.timed("full-text documents handed to tantivy", begin)
            loaded.records += len(chunk)
        begin = time.perf_counter()
    loaded.timed("full-text indexes committed", begin)
    return loaded


def _rows_of(chunk: list[Entry]) -> tuple[_Rows, list[list[str]]]:
    rows, words = _Rows(), []
    for entry in chunk:
        terms = entry.page_terms or [terms_of(t) for t in entry.page_texts]
        record_id = entry.row["record_id"]
        rows.records.append(tuple(entry.row.get(c, _DEFAULTS.get(c)) for c in _RECORD_COLUMNS))
        rows.pages += [(record_id, number, unicodedata.normalize("NFC", page_text), page_terms)
                       for number, (page_text, page_terms)
                       in enumerate(zip(entry.page_texts, terms, strict=True), 1)]
        rows.checks += [(record_id, at, ok) for at, ok in entry.checks]
        words.append(terms)
    return rows, words


@contextmanager
def _behind(catalog: Catalog, writer: Callable[[Catalog], Any]) -> Iterator[Writer]:
    """``writer``'s batches written by a thread of its own, at most two waiting: the caller
    prepares the next batch while the database takes this one (its driver lets go of the
    GIL while the database works). Leaving the block waits for the last batch; a failed
    write is raised there, or at the next batch handed over."""
    waiting: queue.Queue[_Rows | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def work() -> None:
        ended = False  # the caller's None taken
        try:
            with writer(catalog) as write:
                while (rows := waiting.get()) is not None:
                    write(rows)
                ended = True
        except BaseException as error:  # handed to the caller's thread
            failed.append(error)
            while not ended and waiting.get() is not None:  # let the caller finish
                pass

    thread = threading.Thread(target=work, name="records-bulk-writer", daemon=True)
    thread.start()

    def hand_over(rows: _Rows | None) -> None:
        if failed:
            raise failed[0]
        waiting.put(rows)

    try:
        yield hand_over
    finally:
        waiting.put(None)
        thread.join()
    if failed:
        raise failed[0]


@contextmanager
def _sqlite_writer(catalog: Catalog) -> Iterator[Writer]:
    """Batches by ``executemany`` on the driver's connection (SQLAlchemy's per-row work would
    double the time of the rows), each its own transaction."""
    raw = catalog.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint = 0")  # _checkpointing does it meanwhile

        def write(rows: _Rows) -> None:
            for table, columns, values in _tables(rows):
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                                   f"VALUES ({', '.join('?' for _ in columns)})", values)
            raw.commit()

        try:
            with _checkpointing(catalog.engine.url.database or ""):
                yield write
        finally:
            cursor.execute("PRAGMA wal_autocheckpoint = 1000")
    finally:
        raw.close()


@contextmanager
def _copy_writer(catalog: Catalog) -> Iterator[Writer]:
    """Batches by PostgreSQL's ``COPY``, each its own transaction: a tenth of the time of
    as many INSERTs, parsed and planned once per table."""
    raw = catalog.engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        def write(rows: _Rows) -> None:
            with connection.cursor() as cursor:
                # A commit need not wait for its WAL to reach the disk: a crash loses the last
                # batches of a load that is run again anyway (the catalog stays consistent).
                # LOCAL: the pooled connection's later transactions (an ingest's) wait.
                cursor.execute("SET LOCAL synchronous_commit = off")
                for table, columns, values in _tables(rows):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for value in values:
                            copy.write_row(value)
            connection.commit()

        yield write
    finally:
        raw.close()


def _tables(rows: _Rows) -> list[tuple[str, Sequence[str], list[tuple[Any, ...]]]]:
    return [("records", _RECORD_COLUMNS, rows.records), ("pages", _PAGE_COLUMNS, rows.pages),
            ("verifications", _CHECK_COLUMNS, rows.checks)]


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
