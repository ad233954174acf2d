"""The full-text indexes kept in step with the catalog, on every machine that searches it.

The catalog (SQLite, or PostgreSQL shared by many machines) is the truth; each machine keeps
its own full-text indexes (``archive.index.fulltext``) in a local folder. Every change to a
record names it in ``index_changes`` under a new catalog generation, in the changing
transaction. Before a search, :func:`in_step` compares the generation the indexes hold with
the catalog's and applies what changed in between: a search never reads indexes older than
the catalog was when it began, so a record raised above a searcher's clearance is out of their
index before they search. A new catalog epoch (a rebuilt catalog: new rows) rebuilds them.

Processes on one machine share the folder: one applies changes under a lock file, the others
wait for it, find the work done, and reload. Applying a change twice is harmless (a record is
taken out, then put back as the catalog has it now), so a crash between an index's commit and
the state's is mended by the next search.
"""

from __future__ import annotations

import fcntl
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from archive.index.catalog import (
    Catalog,
    catalog_state,
    index_changes,
    pages,
    record_terms,
    records,
    renew_epoch,
    terms_of,
)
from archive.index.fulltext import FullText, Indexed, read_state, title_key, write_state
from archive.store import level_of
from config.errors import RecordsError

CHUNK = 1000  # records read from the catalog at a time while indexing
# How long a search waits for another process bringing the indexes up to date before it says
# so: a rebuild of a large catalog takes minutes, longer than a person or a proxy waits.
LOCK_WAIT_SECONDS = 30.0
_INDEXED_COLUMNS = ("record_id", "title", "level", "unit", "series", "document_type",
                    "classification", "document_date", "signed", "needs_review")


class SearchIndexBusy(RecordsError):
    """The full-text indexes are being rebuilt (or brought up to date) by another process for
    longer than a search waits."""


def in_step(catalog: Catalog) -> FullText:
    """The catalog's full-text indexes, holding at least every change committed before this
    call. Raises :class:`SearchIndexBusy` when another process holds them longer than
    ``LOCK_WAIT_SECONDS`` (a ``records reindex``)."""
    engine = catalog.fulltext()
    held = read_state(engine.folder)
    if held != _catalog_state(catalog):
        with _locked(engine.folder, LOCK_WAIT_SECONDS):
            # Both read again: another process may have done the work while this one
            # waited, and the catalog may have moved on (a stale reading would take indexes
            # another process just brought up to date for ones ahead of the catalog).
            held, (epoch, generation) = read_state(engine.folder), _catalog_state(catalog)
            # Ahead of the catalog: a catalog restored from a backup, whose next changes
            # would reuse generations the indexes think they hold. Made anew.
            if held[0] != epoch or held[1] > generation:
                _rebuild(catalog, engine)
            elif held[1] < generation:
                _catch_up(catalog, engine, held)
            held = read_state(engine.folder)
    engine.show(held)
    return engine


@contextmanager
def rebuilding(catalog: Catalog) -> Iterator[Callable[[dict[str, Any], list[str]], None]]:
    """This machine's full-text indexes made anew from the records being loaded into an empty
    catalog (a bulk load): the function yielded takes each record's row and its pages' folded
    words as its rows are written, so the catalog is not read back.

    The catalog's epoch is renewed first, under the lock: a search meanwhile on this machine
    waits (then says the index is being rebuilt); on another it indexes what is loaded so
    far, and indexes again after the load, when the epoch is renewed once more. If the block
    raises, the indexes say they hold the old epoch, and the next search rebuilds them from
    what the catalog holds.
    """
    engine = catalog.fulltext()
    with _locked(engine.folder):
        with catalog.transaction() as db:
            _, generation = renew_epoch(db)
        with engine.rebuilding() as add:
            yield lambda row, page_terms: add(indexed_of(row, page_terms))
        # Renewed again once every row is in: another machine that searched during the load
        # indexed half of it, and must index it all. This machine's indexes hold the load,
        # and the changes others committed since its start are applied by the next search.
        with catalog.transaction() as db:
            epoch, _ = renew_epoch(db)
        write_state(engine.folder, epoch, generation)


@contextmanager
def _locked(folder: Path, wait: float | None = None) -> Iterator[None]:
    """The indexes' lock file held (waiting at most ``wait`` seconds; None: as long as it
    takes)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (folder / ".lock").open("a") as handle:
        deadline = time.monotonic() + (wait or 0.0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SearchIndexBusy(
                        "search is unavailable while its index is rebuilt (records reindex); "
                        "try again in a few minutes") from None
                time.sleep(0.1)
        yield


def _rebuild(catalog: Catalog, engine: FullText) -> None:
    """Every record of the catalog, indexed anew (its generation read first: the rows read
    after are at least as new)."""
    with catalog.engine.connect() as db:
        epoch, generation = db.execute(
            select(catalog_state.c.epoch, catalog_state.c.generation)).one()
        engine.rebuild(_indexed(db, None))
    write_state(engine.folder, epoch, generation)


def _catalog_state(catalog: Catalog) -> tuple[str, int]:
    with catalog.engine.connect() as db:
        epoch, generation = db.execute(
            select(catalog_state.c.epoch, catalog_state.c.generation)).one()
    return str(epoch), int(generation)


def _catch_up(catalog: Catalog, engine: FullText, held: tuple[str, int]) -> None:
    """Apply the changes after the generation ``held``: the changed records as the catalog
    has them now, those no longer in it taken out. A catalog whose epoch changed meanwhile
    (a bulk load ended) is indexed anew instead: its rows are not in the change log."""
    epoch, generation = _catalog_state(catalog)
    if epoch != held[0]:
        _rebuild(catalog, engine)
        return
    with catalog.engine.connect() as db:
        changed = sorted(set(db.execute(select(index_changes.c.record_id).where(
            index_changes.c.generation > held[1],
            index_changes.c.generation <= generation)).scalars()))
        found: list[Indexed] = []
        for start in range(0, len(changed), CHUNK):
            found += _indexed(db, changed[start:start + CHUNK])
    engine.apply(found, sorted(set(changed) - {r.record_id for r in found}))
    write_state(engine.folder, epoch, generation)


def _indexed(db: Connection, record_ids: list[str] | None) -> Iterator[Indexed]:
    """The records named (None: all) as the full-text indexes hold them: their keys, titles
    and pages' folded words, read by one statement, so from one snapshot of the catalog (a
    record's level and its words as of the same moment, whatever changes meanwhile)."""
    query = (select(*(records.c[name] for name in _INDEXED_COLUMNS), pages.c.terms)
             .outerjoin(pages, pages.c.record_id == records.c.record_id)
             .order_by(records.c.record_id, pages.c.page))
    if record_ids is not None:
        query = query.where(records.c.record_id.in_(record_ids))
    current: Any = None
    words: list[str] = []
    for row in db.execution_options(yield_per=CHUNK).execute(query):
        if current is not None and row.record_id != current["record_id"]:
            yield indexed_of(current, words)
            words = []
        current = row._mapping
        if row.terms is not None:
            words.append(row.terms)
    if current is not None:
        yield indexed_of(current, words)


def indexed_of(row: Mapping[str, Any], page_terms: list[str]) -> Indexed:
    """A record as the full-text indexes hold it, from its ``records`` row (missing columns
    as the table's defaults; a row without a level is at its classification's) and its
    pages' folded words (``terms_of``)."""
    date, title = row.get("document_date") or "", row.get("title") or ""
    classification = row.get("classification") or "public"
    level = row.get("level")
    return Indexed(
        record_id=row["record_id"],
        level=level_of(classification) if level is None else int(level),
        unit=row.get("unit") or "", series=row.get("series") or "",
        document_type=row.get("document_type") or "", classification=classification,
        day=int(date.replace("-", "")) if re.fullmatch(r"\d{4}-\d\d-\d\d", date) else 0,
        signed=bool(row.get("signed")), needs_review=bool(row.get("needs_review")),
        title_key=title_key(terms_of(title), title, row["record_id"]),
        terms=record_terms(page_terms))
