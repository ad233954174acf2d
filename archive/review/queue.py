"""The review queue: the records that need a person, per unit, each with why.

Read from the catalog (``needs_review``: reasons, and nobody has acted yet), within the
reader's clearance; an officer sees the units they work for, an archivist or administrator
every unit. A record above the reader's clearance is neither listed nor counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from archive.access import User, units_of
from archive.index import TABLES, Catalog

records = TABLES.records


@dataclass(frozen=True)
class QueueEntry:
    """One record waiting for a person."""

    record_id: str
    title: str
    unit: str
    classification: str
    archived_at: str
    reasons: list[str]


@dataclass(frozen=True)
class ReviewQueue:
    """A page of the queue, its size in all, and its size per unit (what the reader may
    see)."""

    entries: list[QueueEntry]
    total: int
    per_unit: dict[str, int] = field(default_factory=dict)


def review_queue(catalog: Catalog, user: User, unit: str | None = None, limit: int = 50,
                 offset: int = 0) -> ReviewQueue:
    """The records waiting for review that ``user`` may see, oldest first (first in, first
    reviewed), optionally of one unit."""
    where = [records.c.needs_review, records.c.level <= user.clearance]
    if user.role == "officer":
        where.append(records.c.unit.in_(units_of(catalog, user.name)))
    counts = (select(records.c.unit, func.count()).where(*where).group_by(records.c.unit)
              .order_by(records.c.unit))
    if unit:
        where.append(records.c.unit == unit)
    page = (select(records.c.record_id, records.c.title, records.c.unit,
                   records.c.classification, records.c.archived_at, records.c.review_reasons)
            .where(*where).order_by(records.c.archived_at, records.c.record_id)
            .limit(limit).offset(offset))
    with catalog.engine.connect() as db:
        per_unit = {u: int(n) for u, n in db.execute(counts)}
        entries = [QueueEntry(r.record_id, r.title, r.unit, r.classification, r.archived_at,
                              [s for s in r.review_reasons.split("; ") if s])
                   for r in db.execute(page)]
    total = per_unit.get(unit, 0) if unit else sum(per_unit.values())
    return ReviewQueue(entries, total, per_unit)
