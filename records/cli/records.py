"""Archivists' commands: ``records search | show | history | diff | export | reindex``.

The command line is for people who run the archive machine: they can read the archive folder
anyway, so the CLI searches at full clearance. The web app and its API are where clearance
is enforced per user. Exit codes: 0 done, 1 failed, 2 usage (a malformed query included).
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from config.errors import RecordsError
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
    from archive.index import Catalog
    from archive.store import RecordPaths


def _catalog() -> Catalog:
    from archive.index import Catalog
    from config.settings import load_settings
    return Catalog.open(load_settings().catalog_url())


def _date(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        stop(f"{option} wants a date as YYYY-MM-DD, not {value!r}")


def search_command(
    query: Annotated[str, typer.Argument(help='Words, "phrases", prefix*, AND/OR/NOT')],
    unit: Annotated[str | None, typer.Option("--unit")] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="Document type")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the archive's full text and metadata (diacritics optional)."""
    from archive.access import AuditLog
    from archive.index import Filters, QueryError, SearchIndexBusy, search_records
    from archive.store import FULL_CLEARANCE
    from config.settings import load_settings
    filters = Filters(unit=unit, document_type=doc_type, date_from=_date(date_from, "--from"),
                      date_to=_date(date_to, "--to"))
    settings = load_settings()
    try:
        results = search_records(_catalog(), query, clearance=FULL_CLEARANCE, filters=filters,
                                 order="newest" if newest else "relevance", limit=limit,
                                 offset=offset)
    except (QueryError, SearchIndexBusy) as exc:
        fail(exc, f"cannot search for {query!r}")
    AuditLog(settings.home.resolve()).record(cli_user(), "search", query=query,
                                             results=results.total)
    if as_json:
        data = results.as_dict()
        data.pop("facets")
        print_json(data)
        return
    table = Listing(title=literal(f"{results.total} records match {query!r}"))
    for column in ("record", "date", "unit", "page", "title / snippet"):
        table.add_column(column, overflow="fold")
    for hit in results.hits:
        table.add_row(hit.record_id, hit.date or "", hit.unit, str(hit.page),
                      literal(hit.title, "bold") + "\n" + _terminal(hit.snippet))
    out.print(table)


def _terminal(snippet: str) -> Text:
    """The HTML snippet (escaped page text, hits in ``<mark>``) as terminal text: hits in
    reverse video, the page's own words shown literally."""
    text = Text()
    for number, part in enumerate(re.split(r"</?mark>", snippet)):
        text += literal(html.unescape(part), "reverse" if number % 2 else "")
    return text


def show(
    record_id: Annotated[str, typer.Argument()],
    version: Annotated[str | None, typer.Option(
        "--version", help="An earlier version's description (3 or v3); the current by default")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a record's description (each field's source: read, manifest, corrected by whom),
    signature, provenance and versions."""
    from archive.access import AuditLog
    from archive.store import UnknownRecord, archive_root, committed_record, current_descriptive
    from config.settings import load_settings

    settings = load_settings()
    try:
        paths = committed_record(archive_root(settings.home.resolve()), record_id)
    except UnknownRecord as exc:  # a probe for ids is logged, as the web app logs it
        AuditLog(settings.home.resolve()).record(cli_user(), "view", record_id=record_id,
                                                 outcome="denied")
        fail(exc)
    wanted = _version(paths, version)
    record = paths.read_sidecar()
    described = current_descriptive(paths, record, wanted)
    history = _history(paths)
    AuditLog(settings.home.resolve()).record(cli_user(), "view", record_id=record_id,
                                             **({"version": wanted} if version else {}))
    if as_json:
        print_json({**record, "descriptive": asdict(described), "version": wanted,
                    "versions": history})
        return
    signature = record.get("signature") or {}
    head = paths.inventory.head
    table = Listing(title=literal(f"{record_id}, {wanted}" + (
        f" (the current version is {head})" if wanted != head else "")), show_header=False)
    sources = described.sources
    for name, value in asdict(described).items():
        if name != "sources" and value:
            source = sources.get(name, "")
            table.add_row(name, literal(shown_value(value)) + literal(
                f"  ({source})" if source else "", "dim"))
    table.add_row("pages", str(record["technical"].get("page_count", "")))
    table.add_row("signature", f"{signature.get('level', 'unsigned')} "
                  f"{(signature.get('signer') or {}).get('identity', '')}")
    for event in record.get("provenance", []):
        table.add_row(f"  {event['type']}", f"{event['time']} {event['outcome']} "
                      f"{str(event.get('detail', ''))[:80]}")
    out.print(table)
    out.print(_versions_table(history))


def history(
    record_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A record's versions: when, by whom, why, and which fields each correction changed."""
    from archive.access import AuditLog
    from config.settings import load_settings
    settings = load_settings()
    paths = _committed(settings.home.resolve(), record_id)
    versions = _history(paths)
    AuditLog(settings.home.resolve()).record(cli_user(), "history", record_id=record_id)
    if as_json:
        print_json({"record_id": record_id, "versions": versions})
        return
    out.print(_versions_table(versions, title=f"{record_id}: {len(versions)} versions"))


def diff(
    record_id: Annotated[str, typer.Argument()],
    old: Annotated[str, typer.Argument(metavar="FROM", help="A version: 1 or v1")],
    new: Annotated[str | None, typer.Argument(
        metavar="[TO]", help="A version (the current one by default)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The fields whose values differ between two versions of a record's description."""
    from archive.access import AuditLog
    from archive.store import current_descriptive, differences
    from config.settings import load_settings

    settings = load_settings()
    paths = _committed(settings.home.resolve(), record_id)
    first, second = _version(paths, old), _version(paths, new)
    record = paths.read_sidecar()
    changes = differences(current_descriptive(paths, record, first),
                          current_descriptive(paths, record, second))
    AuditLog(settings.home.resolve()).record(cli_user(), "diff", record_id=record_id,
                                             versions=[first, second])
    if as_json:
        print_json({"record_id": record_id, "from": first, "to": second,
                    "changes": {name: {"before": c.before, "after": c.after}
                                for name, c in changes.items()}})
        return
    if not changes:
        err.print(f"{shown(record_id)}: {first} and {second} describe it alike")
        return
    table = Listing(title=literal(f"{record_id}: {first} → {second}"))
    for column in ("field", first, second):
        table.add_column(column, overflow="fold")
    for name, change in changes.items():
        table.add_row(name, shown_value(change.before), shown_value(change.after))
    out.print(table)


def _version(paths: RecordPaths, value: str | None) -> str:
    """A version the record has ("3", "v3": "v3"), the current one when ``value`` is None;
    anything else stops the command."""
    head = paths.inventory.head
    if value is None:
        return head
    wanted = value.strip().lower()
    wanted = wanted if wanted.startswith("v") else f"v{wanted}"
    if wanted not in paths.inventory.data["versions"]:
        stop(f"{paths.record_id} has no version {value!r}: it has v1 to {head}")
    return wanted


def _history(paths: RecordPaths) -> list[dict[str, Any]]:
    """Every version of the record, oldest first: when it was made, by whom, why and what it
    changed (a correction), or what records did (archived it, renewed its time-stamp)."""
    from archive.store import read_corrections

    acts = {act.version: act for act in read_corrections(paths)}
    versions = paths.inventory.data["versions"]
    found = []
    for version in sorted(versions, key=lambda v: int(v[1:])):
        act = acts.get(version)
        if act is None:
            found.append({"version": version, "time": versions[version].get("created", ""),
                          "by": (versions[version].get("user") or {}).get("name", ""),
                          "why": versions[version].get("message", ""), "correction": False,
                          "changes": {}, "approved_by": ""})
            continue
        found.append({"version": version, "time": act.time, "by": act.by, "why": act.why,
                      "correction": True, "changes": {name: {"before": c.before, "after": c.after}
                                                      for name, c in act.changes.items()},
                      "approved_by": act.approved_by})
    return found


def _versions_table(versions: list[dict[str, Any]], title: str = "versions") -> Listing:
    table = Listing(title=literal(title))
    for column in ("version", "time", "by", "why", "fields"):
        table.add_column(column, overflow="fold", no_wrap=column in ("version", "time"))
    for entry in versions:
        approver = entry["approved_by"]
        # A declassification is made by its approver, the second person (see declassify).
        by = entry["by"] + (" (approving)" if approver == entry["by"] else
                            f", approved by {approver}" if approver else "")
        fields = (", ".join(entry["changes"]) or "reviewed, nothing to correct"
                  if entry["correction"] else "")
        table.add_row(entry["version"], str(entry["time"])[:16].replace("T", " "), by,
                      entry["why"], fields)
    return table


def export(
    record_id: Annotated[str, typer.Argument()],
    dest: Annotated[Path, typer.Argument(help="Folder to write the bag into")],
) -> None:
    """Verify a record, then write it with the proof that it is authentic and complete as a
    BagIt bag to DEST/<record id>; a record that fails verification is not exported."""
    from archive.access import AuditLog
    from archive.index import Catalog
    from archive.signing import export_record, seal_certificates, trust_roots
    from archive.store import archive_root
    from config.settings import load_settings
    from records.runtime import quiet_pyhanko
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    target = dest / record_id
    if target.exists():
        stop(f"{target} already exists")
    try:
        roots = trust_roots(settings.signing, home)
        done = export_record(archive_root(home), record_id, target, roots,
                             seal_certificates(settings.signing, home),
                             Catalog.open(settings.catalog_url()))
    except RecordsError as exc:
        AuditLog(home).record(cli_user(), "export", record_id=record_id[:64], outcome="refused")
        fail(exc)
    AuditLog(home).record(cli_user(), "export", record_id=record_id, dest=str(target))
    err.print(f"wrote {shown(target)} (BagIt {done.bag.version}, {len(done.bag.payload_entries())} "
              f"files, valid; {done.version} of the record, under signed head {done.head})")


def _committed(home: Path, record_id: str) -> RecordPaths:
    from archive.store import UnknownRecord, archive_root, committed_record
    try:
        return committed_record(archive_root(home), record_id)
    except UnknownRecord as exc:
        fail(exc)


def reindex() -> None:
    """Rebuild the catalog from the archive folder alone."""
    from archive.index import rebuild
    from archive.roadmap import rebuild_progress
    from archive.store import archive_root
    from config.settings import load_settings
    settings = load_settings()
    catalog = _catalog()
    count = rebuild(catalog, archive_root(settings.home.resolve()))
    batches = rebuild_progress(catalog, settings.home.resolve())
    err.print(f"catalog rebuilt: {count} records, {batches} batch documents")
