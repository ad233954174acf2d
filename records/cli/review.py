"""Review and correction: ``records edit | review | declassify``.

People correct what OCR and extraction got wrong; each correction is a new version of the
record with who, when and why (``archive.review``), and what was archived never changes.
Lowering a classification takes two people: one proposes, another approves.

The command line acts with the machine's trust, as ``cli:<login>`` at full clearance: whoever
can run records on the archive's server can read the archive folder anyway. It can propose
and refuse a declassification, never approve one: everyone at the server's command line may
be the archive's one account, so the second person approves in the web app, signed in.
Exit codes: 0 done, 1 failed, 2 refused (a value that cannot be used, an unknown record, a
second person missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from records.cli.console import (
    Listing,
    cli_user,
    err,
    fail,
    literal,
    out,
    print_json,
    shown,
    shown_value,
    stop,
)

if TYPE_CHECKING:
    from config.settings import Settings

if TYPE_CHECKING:
    from archive.access import User
    from archive.index import Catalog
    from archive.review import Corrected, Proposal
    from archive.signing import Sealer

declassify_app = typer.Typer(
    no_args_is_help=True,
    help="Lowering a record's classification: propose or refuse here; a second person "
         "approves in the web app, signed in.")

# Each option of `records edit` and the descriptive field it corrects.
FIELDS = {"title": "title", "date": "date", "number": "document_number",
          "doc_type": "document_type", "issuer": "issuer", "series": "series",
          "subjects": "subjects", "language": "language", "classification": "classification"}


def _reviewer() -> User:
    """The person at the command line, as the archive's review knows them: an administrator
    cleared for everything, named by their login."""
    from archive.access import User
    from archive.store import FULL_CLEARANCE

    return User(cli_user(), "admin", FULL_CLEARANCE)


def _catalog(settings: Settings) -> Catalog:
    from archive.index import Catalog

    return Catalog.open(settings.catalog_url())


def _sealer(settings: Settings, home: Path) -> Sealer | None:
    """The organisation's seal: on the new version's entry in the archive's log, as every
    version of a record carries, and on the corrected copy (none when signing is off)."""
    if not settings.signing.enabled:
        return None
    from archive.signing import Sealer, SigningError, sign_options
    from flows.token import load_shared_signer
    from records.runtime import quiet_pyhanko

    quiet_pyhanko()
    try:
        return Sealer(load_shared_signer(settings.signing, home),
                      sign_options(settings.signing))
    except SigningError as exc:
        fail(exc, "the correction needs the organisation's seal")


def edit(
    record_id: Annotated[str, typer.Argument()],
    why: Annotated[str, typer.Option("--why", help="Why: what you compared it with, what was "
                                     "wrong (kept with the version)")],
    title: Annotated[str | None, typer.Option("--title")] = None,
    date: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD")] = None,
    number: Annotated[str | None, typer.Option("--number", help="The document's number")
                      ] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="The document's type")] = None,
    issuer: Annotated[str | None, typer.Option("--issuer")] = None,
    series: Annotated[str | None, typer.Option("--series")] = None,
    subjects: Annotated[list[str] | None, typer.Option(
        "--subject", help="A subject; repeat for each (they replace the record's subjects; "
                          "--subject '' removes them all)")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Tesseract's codes: vie, "
                                                 "deu+eng")] = None,
    classification: Annotated[str | None, typer.Option(
        "--classification", help="Raise it; lowering is `records declassify propose`")] = None,
    reviewed: Annotated[bool, typer.Option(
        "--reviewed", help="Checked, nothing to correct: the record leaves the review queue")
    ] = False,
    seen: Annotated[str | None, typer.Option(
        "--seen", help="The version you read (v3): refused if the record changed since")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Correct a record's description: a new version with who, when and why; the archived
    PDF and its metadata stay as they were."""
    from archive.review import correct_record
    from config.settings import load_settings

    given = {"title": title, "date": date, "number": number, "doc_type": doc_type,
             "issuer": issuer, "series": series, "subjects": subjects, "language": language,
             "classification": classification}
    edits = {FIELDS[option]: value for option, value in given.items() if value is not None}
    if reviewed and edits:
        stop("--reviewed says there is nothing to correct: give it without fields to change")
    if not reviewed and not edits:
        stop("name a field to correct (--title, --date, --number, --type, --issuer, --series, "
             "--subject, --language, --classification), or --reviewed if nothing is wrong")
    seen_version = None
    if seen:
        seen_version = seen.strip().lower()
        seen_version = seen_version if seen_version.startswith("v") else f"v{seen_version}"
    settings = load_settings()
    home = settings.home.resolve()
    done = correct_record(home, _catalog(settings), _reviewer(), record_id, edits, why,
                          vouch=None, sealer=_sealer(settings, home), seen_version=seen_version)
    _print_corrected(record_id, done, as_json)


def _print_corrected(record_id: str, done: Corrected, as_json: bool) -> None:
    act = done.correction
    if as_json:
        print_json({"record_id": record_id, "version": act.version, "time": act.time,
                    "by": act.by, "why": act.why, "approved_by": act.approved_by,
                    "changes": {name: {"before": c.before, "after": c.after}
                                for name, c in act.changes.items()},
                    "corrected_copy": act.copy.get("file")})
        return
    if not act.changes:
        err.print(f"{shown(record_id)} {act.version}: reviewed by {shown(act.by)}, nothing to "
                  "correct; it has left the review queue")
        return
    said = f"corrected by {act.by}"
    err.print(f"{shown(record_id)} {act.version}: {shown(said)}")
    table = Listing(title=literal(f"{record_id}, {act.version}"))
    for column in ("field", "before", "after"):
        table.add_column(column, overflow="fold")
    for name, change in act.changes.items():
        table.add_row(name, shown_value(change.before), shown_value(change.after))
    out.print(table)
    if act.copy:
        err.print(f"signed corrected copy: {shown(act.copy['file'])} (the archival copy is "
                  "unchanged)")


def review(
    unit: Annotated[str | None, typer.Option("--unit", help="One unit's records")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The review queue: records the machine could not be trusted with, oldest first, each
    with why; a correction or `records edit ID --reviewed` takes one off."""
    from archive.access import AuditLog
    from archive.review import review_queue
    from config.settings import load_settings

    settings = load_settings()
    queue = review_queue(_catalog(settings), _reviewer(), unit=unit, limit=limit,
                         offset=offset)
    AuditLog(settings.home.resolve()).record(cli_user(), "review-queue", unit=unit,
                                             results=queue.total)
    if as_json:
        print_json({"total": queue.total, "per_unit": queue.per_unit,
                    "entries": [{"record_id": e.record_id, "unit": e.unit, "title": e.title,
                                 "classification": e.classification,
                                 "archived_at": e.archived_at, "reasons": e.reasons}
                                for e in queue.entries]})
        return
    if not queue.total:
        err.print("no records wait for review" + (f" in {shown(unit)}" if unit else ""))
        return
    waiting = f"{queue.total} record{'' if queue.total == 1 else 's'} wait for review"
    units = ", ".join(f"{u} {n}" for u, n in queue.per_unit.items())
    table = Listing(title=literal(waiting + (f" in {unit}" if unit else "")),
                    caption=literal(f"per unit: {units}") if units else None)
    table.add_column("record", no_wrap=True)
    for column in ("unit", "title", "why"):
        table.add_column(column, overflow="fold")
    for entry in queue.entries:
        # One reason a line: each shown literally, the breaks between them are ours.
        table.add_row(entry.record_id, entry.unit, entry.title,
                      Text("\n").join(literal(reason) for reason in entry.reasons))
    out.print(table)
    if queue.total > offset + len(queue.entries):
        err.print(f"showing {offset + 1}-{offset + len(queue.entries)} of {queue.total}: "
                  f"--offset {offset + len(queue.entries)} for the next")


@declassify_app.command("propose")
def declassify_propose(
    record_id: Annotated[str, typer.Argument()],
    to: Annotated[str, typer.Option("--to", help="The lower classification")],
    why: Annotated[str, typer.Option("--why", help="Why it may be lowered")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Propose lowering a record's classification; a second person approves it in the web
    app."""
    from archive.review import propose
    from config.settings import load_settings

    settings = load_settings()
    found = propose(settings.home.resolve(), _catalog(settings), _reviewer(), record_id, to,
                    why)
    if as_json:
        print_json(_proposal_dict(found))
        return
    err.print(f"proposal {found.id}: {shown(found.record_id)} from {found.before} to "
              f"{found.after}; it changes nothing until a second person cleared for it "
              "approves it in the web app, on the record's page")


@declassify_app.command("refuse")
def declassify_refuse(
    proposal_id: Annotated[int, typer.Argument(help="The proposal's number")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Refuse a proposal (its proposer withdraws it so): nothing changes."""
    from archive.review import refuse
    from config.settings import load_settings

    settings = load_settings()
    found = refuse(settings.home.resolve(), _catalog(settings), _reviewer(), proposal_id)
    if as_json:
        print_json(_proposal_dict(found))
        return
    err.print(f"proposal {found.id} ({shown(found.record_id)} to {found.after}): {found.state} "
              f"by {shown(found.decided_by)}; the record stays {found.before}")


@declassify_app.command("list")
def declassify_list(
    record_id: Annotated[str | None, typer.Argument(help="One record's proposals")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The open proposals, oldest first."""
    from archive.review import open_proposals
    from config.settings import load_settings

    found = open_proposals(_catalog(load_settings()), _reviewer().clearance, record_id)
    if as_json:
        print_json([_proposal_dict(p) for p in found])
        return
    table = Listing(title=literal(f"{len(found)} open declassification proposal"
                                  f"{'' if len(found) == 1 else 's'}"))
    for column in ("id", "record", "from", "to", "proposed by", "at", "why"):
        table.add_column(column, overflow="fold",
                         no_wrap=column in ("id", "record", "from", "to", "at"))
    for p in found:
        table.add_row(str(p.id), p.record_id, p.before, p.after, p.proposed_by,
                      p.at[:16].replace("T", " "), p.why)
    out.print(table)


def _proposal_dict(found: Proposal) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(found)
