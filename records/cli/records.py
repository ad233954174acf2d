"""Archivists' commands: ``records search | show | export | reindex``.

The command line is for people who run the archive machine: they can read the archive folder
anyway, so the CLI searches at full clearance. The web app and its API are where clearance
is enforced per user. Exit codes: 0 done, 1 failed, 2 usage (a malformed query included).
"""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from archive.access import AuditLog
from archive.index import Catalog, Filters, QueryError, Results, rebuild, search_records
from archive.roadmap import rebuild_progress
from archive.signing import export_record, seal_certificates, trust_roots
from archive.store import (
    FULL_CLEARANCE,
    RecordPaths,
    UnknownRecord,
    archive_root,
    committed_record,
)
from config.errors import RecordsError
from config.settings import load_settings
from records.cli.console import (
    Listing,
    cli_user,
    err,
    fail,
    literal,
    out,
    print_json,
    shown,
    stop,
)
from records.runtime import quiet_pyhanko


def _catalog() -> Catalog:
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
    filters = Filters(unit=unit, document_type=doc_type, date_from=_date(date_from, "--from"),
                      date_to=_date(date_to, "--to"))
    settings = load_settings()
    try:
        results = search_records(_catalog(), query, clearance=FULL_CLEARANCE, filters=filters,
                                 order="newest" if newest else "relevance", limit=limit,
                                 offset=offset, rank_limit=settings.catalog.rank_limit)
    except QueryError as exc:
        fail(exc, f"cannot search for {query!r}")
    AuditLog(settings.home.resolve()).record(cli_user(), "search", query=query,
                                             results=results.total)
    if as_json:
        data = results.as_dict()
        data.pop("facets")
        print_json(data)
        return
    table = Listing(title=literal(f"{results.total} records match {query!r}"),
                    caption=_unranked(results))
    for column in ("record", "date", "unit", "page", "title / snippet"):
        table.add_column(column, overflow="fold")
    for hit in results.hits:
        table.add_row(hit.record_id, hit.date or "", hit.unit, str(hit.page),
                      literal(hit.title, "bold") + "\n" + _terminal(hit.snippet))
    out.print(table)


def _unranked(results: Results) -> str | None:
    if not results.unranked:
        return None
    return (f"Too many to rank by relevance (more than {results.rank_limit:,}): newest first. "
            "Add a word or a filter to rank them.")


def _terminal(snippet: str) -> Text:
    """The HTML snippet (escaped page text, hits in ``<mark>``) as terminal text: hits in
    reverse video, the page's own words shown literally."""
    text = Text()
    for number, part in enumerate(re.split(r"</?mark>", snippet)):
        text += literal(html.unescape(part), "reverse" if number % 2 else "")
    return text


def show(
    record_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a record's metadata, signature and provenance."""
    settings = load_settings()
    record = _committed(settings.home.resolve(), record_id).read_sidecar()
    AuditLog(settings.home.resolve()).record(cli_user(), "view", record_id=record_id)
    if as_json:
        print_json(record)
        return
    described, signature = record["descriptive"], record.get("signature") or {}
    table = Listing(title=literal(record_id), show_header=False)
    for name, value in described.items():
        if name != "sources" and value:
            source = described.get("sources", {}).get(name, "")
            table.add_row(name, literal(value) + literal(f"  ({source})" if source else "",
                                                         "dim"))
    table.add_row("pages", str(record["technical"].get("page_count", "")))
    table.add_row("signature", f"{signature.get('level', 'unsigned')} "
                  f"{(signature.get('signer') or {}).get('identity', '')}")
    for event in record.get("provenance", []):
        table.add_row(f"  {event['type']}", f"{event['time']} {event['outcome']} "
                      f"{str(event.get('detail', ''))[:80]}")
    out.print(table)


def export(
    record_id: Annotated[str, typer.Argument()],
    dest: Annotated[Path, typer.Argument(help="Folder to write the bag into")],
) -> None:
    """Verify a record, then write it with the proof that it is authentic and complete as a
    BagIt bag to DEST/<record id>; a record that fails verification is not exported."""
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
    try:
        return committed_record(archive_root(home), record_id)
    except UnknownRecord as exc:
        fail(exc)


def reindex() -> None:
    """Rebuild the catalog from the archive folder alone."""
    settings = load_settings()
    catalog = _catalog()
    count = rebuild(catalog, archive_root(settings.home.resolve()))
    batches = rebuild_progress(catalog, settings.home.resolve())
    err.print(f"catalog rebuilt: {count} records, {batches} batch documents")
