"""Declassification: lowering a record's classification takes two people.

One person proposes (with a reason); a second, cleared at least to the record's current
level, approves, and only then is the lower classification a correction of the record
(``approved_by`` names the approver). Raising needs no second person: that is one
archivist's act (``archive.review.edit``). Proposals wait in a table of this wing in the
catalog's database; both acts, and a refusal, are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, update

from archive.access import AccessError, AuditLog, User
from archive.index import TABLES, Catalog
from archive.review.edit import (
    Corrected,
    CorrectionRefused,
    clean_edits,
    clean_text,
    correct_record,
    editable_record,
)
from archive.signing import Sealer
from archive.store import Vouch, level_of, now

CLI = "cli:"  # how the command line names who runs it (records.cli.console.cli_user)
schema = MetaData()
proposals = Table(
    "declassifications", schema,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, index=True),
    Column("before", String(32), nullable=False),
    Column("after", String(32), nullable=False),
    Column("proposed_by", String(64), nullable=False),
    Column("why", Text, nullable=False),
    Column("at", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # open, approved, refused, withdrawn
    Column("decided_by", String(64), nullable=False, default=""),
    Column("decided_at", String(32), nullable=False, default=""),
)


@dataclass(frozen=True)
class Proposal:
    """A proposal to lower a record's classification, and what became of it."""

    id: int
    record_id: str
    before: str
    after: str
    proposed_by: str
    why: str
    at: str
    state: str
    decided_by: str = ""
    decided_at: str = ""


def propose(home: Path, catalog: Catalog, user: User, record_id: str, to: str,
            why: str) -> Proposal:
    """Propose lowering ``record_id`` to ``to``; one open proposal per record."""
    row = editable_record(catalog, user, record_id)
    after = clean_edits({"classification": to})["classification"]
    reason = clean_text("the reason", why, required=True)
    if level_of(after) >= row["level"]:
        raise CorrectionRefused(f"{record_id} is {row['classification']}: {after} is not lower "
                                "(raising is a correction, not a declassification)")
    catalog.ensure(schema)
    with catalog.transaction() as db:
        if db.execute(select(proposals.c.id).where(proposals.c.record_id == record_id,
                                                   proposals.c.state == "open")).first():
            raise CorrectionRefused(f"{record_id} already has an open declassification "
                                    "proposal: decide it first")
        key = db.execute(insert(proposals).values(
            record_id=record_id, before=row["classification"], after=after,
            proposed_by=user.name, why=reason, at=now(), state="open")).inserted_primary_key[0]
    AuditLog(home).record(user.name, "declassify-propose", record_id=record_id,
                          proposal=key, before=row["classification"], after=after, why=reason)
    return proposal(catalog, int(key))


def approve(home: Path, catalog: Catalog, user: User, proposal_id: int, *,
            vouch: Vouch | None, sealer: Sealer | None = None) -> Corrected:
    """Approve an open proposal as ``user`` (not its proposer, cleared to the record's
    level, signed in as an account of their own): the record is corrected to the lower
    classification, if it is still at the one proposed (checked under the record's lock)."""
    if user.name.startswith(CLI):
        raise AccessError("approve in the web app, signed in: the command line runs as the "
                          "archive's own account and cannot tell one person from another")
    found = _open(catalog, user, proposal_id)
    done = correct_record(home, catalog, user, found.record_id,
                          {"classification": found.after}, found.why, vouch=vouch,
                          sealer=sealer, approved_by=user.name,
                          proposal=(found.proposed_by, found.before))
    _decide(catalog, found, "approved", user.name)
    AuditLog(home).record(user.name, "declassify-approve", record_id=found.record_id,
                          proposal=found.id, proposed_by=found.proposed_by,
                          version=done.correction.version)
    return done


def refuse(home: Path, catalog: Catalog, user: User, proposal_id: int) -> Proposal:
    """Refuse (or, by its proposer, withdraw) an open proposal; nothing changes."""
    found = _open(catalog, user, proposal_id, own_allowed=True)
    state = "withdrawn" if person(found.proposed_by) == person(user.name) else "refused"
    _decide(catalog, found, state, user.name)
    action = "declassify-withdraw" if state == "withdrawn" else "declassify-refuse"
    AuditLog(home).record(user.name, action, record_id=found.record_id, proposal=found.id)
    return proposal(catalog, found.id)


def person(name: str) -> str:
    """Who a name is: ``cli:lan`` at the command line is ``lan`` of the web app (one person
    may not be both proposer and approver under two names)."""
    return name.removeprefix(CLI)


def proposal(catalog: Catalog, proposal_id: int) -> Proposal:
    catalog.ensure(schema)
    with catalog.engine.connect() as db:
        row = db.execute(select(proposals).where(proposals.c.id == proposal_id)).first()
    if row is None:
        raise CorrectionRefused(f"no declassification proposal {proposal_id}")
    return Proposal(**row._mapping)


def open_proposals(catalog: Catalog, clearance: int,
                   record_id: str | None = None) -> list[Proposal]:
    """Open proposals for records within ``clearance`` now (of one record, if given): a
    record raised since its proposal is as far out of reach as the record."""
    catalog.ensure(schema)
    records = TABLES.records
    query = (select(proposals).join(records, records.c.record_id == proposals.c.record_id)
             .where(proposals.c.state == "open", records.c.level <= clearance)
             .order_by(proposals.c.id))
    if record_id:
        query = query.where(proposals.c.record_id == record_id)
    with catalog.engine.connect() as db:
        found = [Proposal(**r._mapping) for r in db.execute(query)]
    return [p for p in found if level_of(p.before) <= clearance]


def _open(catalog: Catalog, user: User, proposal_id: int,
          own_allowed: bool = False) -> Proposal:
    found = proposal(catalog, proposal_id)
    editable_record(catalog, user, found.record_id)  # the clearance and role, first
    if found.state != "open":
        raise CorrectionRefused(f"proposal {proposal_id} is {found.state} already")
    if person(found.proposed_by) == person(user.name) and not own_allowed:
        raise AccessError("a declassification needs a second person: you proposed it")
    return found


def _decide(catalog: Catalog, found: Proposal, state: str, by: str) -> None:
    with catalog.transaction() as db:
        db.execute(update(proposals).where(proposals.c.id == found.id,
                                           proposals.c.state == "open")
                   .values(state=state, decided_by=by, decided_at=now()))
