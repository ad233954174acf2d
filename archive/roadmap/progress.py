"""The facts the roadmap is measured by, read from the catalog, by unit and by day.

Every figure a manager sees is computed from what the archive holds (records, their pages,
signatures, verifications) and from what became of each batch's documents (``progress``):
never typed in. Facts are kept as daily counts, so the roadmap can be recomputed for any past
date by summing up to it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, literal_column, select

from archive.index import TABLES, Catalog
from archive.intake import BatchReport, Ledger
from archive.store import now

records, pages, verifications, progress = (TABLES.records, TABLES.pages, TABLES.verifications,
                                           TABLES.progress)

COUNTERS = ("records", "pages", "signed", "signed_org", "signed_personal", "searchable",
            "review", "reviewed", "quarantined")
IDENTITY_COUNTER = {"organisation": "signed_org", "personal": "signed_personal"}


@dataclass
class Facts:
    """Daily counts per unit, and each record's verification changes."""

    daily: dict[str, dict[date, Counter[str]]] = field(default_factory=dict)
    # unit -> (day archived, day its verified state changed, +1 became verified / -1 failed)
    verified: dict[str, list[tuple[date, date, int]]] = field(default_factory=dict)
    # (unit, identity) -> the first day a record of the unit was signed with that certificate
    first_signed: dict[tuple[str, str], date] = field(default_factory=dict)

    def total(self, unit: str, counter: str, start: date, through: date) -> int:
        """Sum of a counter over [start, through]."""
        days = self.daily.get(unit, {})
        return sum(c[counter] for day, c in days.items() if start <= day <= through)

    def verified_count(self, unit: str, start: date, through: date) -> int:
        """Records archived in [start, through] whose last verification by ``through``
        passed."""
        return sum(delta for archived, changed, delta in self.verified.get(unit, ())
                   if start <= archived <= through and changed <= through)

    def units(self) -> set[str]:
        return set(self.daily) | set(self.verified)


def _day(stamp: str | None) -> date | None:
    try:
        return date.fromisoformat(stamp[:10]) if stamp else None
    except ValueError:
        return None


def _day_of(stamp: Any) -> Any:
    """The date part of an ISO time; literal positions, so PostgreSQL sees the same
    expression in SELECT and GROUP BY (bound parameters would differ)."""
    return func.substr(stamp, literal_column("1"), literal_column("10"))


def load_facts(catalog: Catalog) -> Facts:
    """All facts, in three queries: records per unit and day, verifications, quarantines."""
    facts = Facts()

    def bump(unit: str, day: date | None, counts: dict[str, int]) -> None:
        if day is None:
            return
        slot = facts.daily.setdefault(unit, {}).setdefault(day, Counter())
        slot.update({k: int(v or 0) for k, v in counts.items()})

    def flag(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    has_text = exists().where(and_(pages.c.record_id == records.c.record_id, pages.c.terms != ""))
    day = _day_of(records.c.archived_at)
    query = (select(records.c.unit, day.label("day"), func.count().label("records"),
                    func.sum(records.c.pages).label("pages"),
                    flag(records.c.signed).label("signed"),
                    flag(and_(records.c.signed, records.c.signer_identity == "organisation")
                         ).label("signed_org"),
                    flag(and_(records.c.signed, records.c.signer_identity == "personal")
                         ).label("signed_personal"),
                    flag(has_text).label("searchable"),
                    flag(records.c.needs_review).label("review"),
                    flag(records.c.reviewed_by != "").label("reviewed"))
             .group_by(records.c.unit, day))
    first = (select(records.c.unit, records.c.signer_identity, func.min(day))
             .where(records.c.signed).group_by(records.c.unit, records.c.signer_identity))
    checks = (select(verifications.c.record_id, records.c.unit, records.c.archived_at,
                     verifications.c.at, verifications.c.ok)
              .join(records, records.c.record_id == verifications.c.record_id)
              .order_by(verifications.c.record_id, verifications.c.at))
    refused = (select(progress.c.unit, _day_of(progress.c.at), func.count())
               .where(progress.c.status == "quarantined")
               .group_by(progress.c.unit, _day_of(progress.c.at)))
    with catalog.engine.connect() as db:
        for row in db.execute(query):
            bump(row.unit, _day(row.day), {c: getattr(row, c) for c in COUNTERS[:-1]})
        for unit, identity, first_day in db.execute(first):
            if _day(first_day):
                facts.first_signed[(unit, identity)] = _day(first_day)  # type: ignore[assignment]
        _verification_changes(facts, db.execute(checks).all())
        for unit, refused_day, count in db.execute(refused):
            bump(unit, _day(refused_day), {"quarantined": count})
    return facts


def _verification_changes(facts: Facts, rows: list[Any]) -> None:
    """Turn each record's verifications into the days its verified state changed."""
    state: dict[str, bool] = {}
    for row in rows:
        archived, changed = _day(row.archived_at), _day(row.at)
        if archived is None or changed is None:
            continue
        was = state.get(row.record_id, False)
        if bool(row.ok) != was:
            facts.verified.setdefault(row.unit, []).append((archived, changed,
                                                           1 if row.ok else -1))
            state[row.record_id] = bool(row.ok)


def record_batch(catalog: Catalog, report: BatchReport) -> int:
    """Note what became of each document of a finished batch (replacing an earlier note of
    the same batch, so a rerun counts once); return how many documents."""
    at = report.finished or report.started or now()
    rows = [{"batch_id": report.batch_id, "source": d.source, "unit": d.unit,
             "status": d.status, "record_id": d.record_id, "pages": d.pages,
             "reason": d.reason, "at": at}
            for d in report.documents]
    with catalog.transaction() as db:
        db.execute(delete(progress).where(progress.c.batch_id == report.batch_id))
        if rows:
            db.execute(insert(progress), rows)
    return len(rows)


def rebuild_progress(catalog: Catalog, home: Path) -> int:
    """Note every batch of the ledger under ``home`` (reindex: the catalog is derived)."""
    return sum(record_batch(catalog, report) for report in Ledger(home).in_order())


def weekly(facts: Facts, units: list[str], start: date, through: date) -> list[dict[str, Any]]:
    """Records and pages archived per ISO week in [start, through], for the given units."""
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    for unit in units:
        for day, counts in facts.daily.get(unit, {}).items():
            if start <= day <= through:
                year, week, _ = day.isocalendar()
                weeks[f"{year}-W{week:02d}"].update(records=counts["records"],
                                                    pages=counts["pages"])
    return [{"week": w, "records": c["records"], "pages": c["pages"]}
            for w, c in sorted(weeks.items())]
