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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from archive.index.catalog import (
    Catalog,
    catalog_state,
    index_changes,
    pages,
    record_keys,
    record_terms,
    records,
    terms_of,
)
from archive.index.fulltext import FullText, Indexed, read_state, title_key, write_state

CHUNK = 1000  # records read from the catalog at a time while indexing


def in_step(catalog: Catalog) -> FullText:
    """The catalog's full-text indexes, holding at least every change committed before this
    call."""
    engine = catalog.fulltext()
    with catalog.engine.connect() as db:
        epoch, generation = db.execute(
            select(catalog_state.c.epoch, catalog_state.c.generation)).one()
    held = read_state(engine.folder)
    if held != (epoch, generation):
        with _locked(engine.folder):
            held = read_state(engine.folder)  # another process may have done it meanwhile
            # Ahead of the catalog: a catalog restored from a backup, whose next changes
            # would reuse generations the indexes think they hold. Made anew.
            if held[0] != epoch or held[1] > generation:
                _rebuild(catalog, engine)
            elif held[1] < generation:
                _catch_up(catalog, engine, held[1])
            held = read_state(engine.folder)
    engine.show(held)
    return engine


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _rebuild(catalog: Catalog, engine: FullText) -> None:
    """Every record of the catalog, indexed anew (its generation read first: the rows read
    after are at least as new)."""
    with catalog.engine.connect() as db:
        epoch, generation = db.execute(
            select(catalog_state.c.epoch, catalog_state.c.generation)).one()
        engine.rebuild(_indexed(db, None))
    write_state(engine.folder, epoch, generation)


def _catch_up(catalog: Catalog, engine: FullText, held: int) -> None:
    """Apply the changes after generation ``held``: the changed records as the catalog has
    them now, those no longer in it taken out."""
    with catalog.engine.connect() as db:
        epoch, generation = db.execute(
            select(catalog_state.c.epoch, catalog_state.c.generation)).one()
        changed = sorted(set(db.execute(select(index_changes.c.record_id).where(
            index_changes.c.generation > held,
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
    query = (select(record_keys, records.c.title, pages.c.terms)
             .join(records, records.c.record_id == record_keys.c.record_id)
             .outerjoin(pages, pages.c.record_id == record_keys.c.record_id)
             .order_by(record_keys.c.id, pages.c.page))
    if record_ids is not None:
        query = query.where(record_keys.c.record_id.in_(record_ids))
    current: Any = None
    words: list[str] = []
    for row in db.execution_options(yield_per=CHUNK).execute(query):
        if current is not None and row.record_id != current["record_id"]:
            yield _record(current, words)
            words = []
        current = row._mapping
        if row.terms is not None:
            words.append(row.terms)
    if current is not None:
        yield _record(current, words)


def _record(row: Mapping[str, Any], page_terms: list[str]) -> Indexed:
    date, title = row["document_date"] or "", row["title"] or ""
    return Indexed(
        record_id=row["record_id"], level=row["level"], unit=row["unit"],
        series=row["series"], document_type=row["document_type"],
        classification=row["classification"],
        day=int(date.replace("-", "")) if re.fullmatch(r"\d{4}-\d\d-\d\d", date) else 0,
        signed=bool(row["signed"]), needs_review=bool(row["needs_review"]),
        title_key=title_key(terms_of(title), title, row["record_id"]),
        terms=record_terms(page_terms))
