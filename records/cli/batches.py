"""Records officers' commands: ``records ocr | queue | status | demo``.

``queue`` runs a batch here (Prefect embedded) or, with ``PREFECT_API_URL`` set, queues it on
that server for its workers (``records.batches`` does the work; this module shows it).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from config.errors import ExitCode, RecordsError
from records.cli.console import (
    Listing,
    classification_level,
    err,
    fail,
    literal,
    out,
    print_json,
    progress,
    shown,
    stop,
)

if TYPE_CHECKING:
    from archive.intake import BatchReport
    from config.settings import Settings
    from records import batches

LANG_HELP = "Tesseract languages joined by +, e.g. vie+eng (default: settings)"
REDO_HELP = "Re-OCR PDF pages that already have a text layer"
DEMO_UNITS = ("VP", "LT", "HN")  # units of the example roadmap (config/roadmap.toml)
COLOURS = {"archived": "green", "quarantined": "yellow", "failed": "red"}


def ocr(
    inputs: Annotated[list[Path], typer.Argument(help="Scans: images, TIFFs, PDFs or folders")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The PDF/A-2b to write")],
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    redo_ocr: Annotated[bool, typer.Option("--redo-ocr", help=REDO_HELP)] = False,
    rotate: Annotated[bool, typer.Option(help="Turn sideways pages upright")] = True,
    deskew: Annotated[bool, typer.Option(help="Level skewed pages")] = True,
    jobs: Annotated[int | None, typer.Option(help="Pages at once (default: cores)")] = None,
) -> None:
    """Turn scans into one searchable PDF/A-2b. Archives nothing."""
    from config.settings import load_settings
    from ocr import limits
    from ocr.assemble import DocumentInfo
    from ocr.errors import InputRejected
    from ocr.options import OcrOptions
    from ocr.pipeline import ocr_to_pdfa
    from records import runtime

    settings = load_settings()
    home = runtime.prepare(settings)
    options = OcrOptions.from_settings(settings.ocr, languages=lang, redo_ocr=redo_ocr or None,
                                       rotate_pages=rotate, deskew=deskew, jobs=jobs)
    _check_tools(options.languages, options.rotate_pages)
    limits.configure(options.tool_memory_mb, home / "tmp")
    try:
        with progress() as bar:
            task = bar.add_task(output.name, total=None)
            result = ocr_to_pdfa(inputs, output, options, home / "cache" / "pages",
                                 DocumentInfo(title=output.stem),
                                 on_page=lambda _: bar.advance(task))
    except RecordsError as exc:
        fail(exc, "refused" if isinstance(exc, InputRejected) else "failed")
    review = [p.number for p in result.pages if p.low_confidence]
    err.print(f"wrote {shown(output)} ({len(result.pages)} pages, PDF/A-2b)"
              + (f"; low confidence on pages {review}" if review else ""))


def _checked_batch_id(value: str | None) -> str | None:
    """The hidden --batch-id, checked by the batch layer (imported only when given)."""
    from records.batches import checked_batch_id
    return checked_batch_id(value)


def run_batch(settings: Settings, paths: list[Path], options: batches.BatchOptions,
              show_progress: bool, batch_id: str | None = None) -> BatchReport:
    """Run a batch here (as ``batch_id``, by default a new one), with a progress bar unless
    ``show_progress`` is off."""
    from records import batches, runtime
    batch_id = batch_id or runtime.batch_id(paths)
    if not show_progress:
        return batches.run_here(settings, paths, options, batch_id)
    err.print(f"batch [bold]{batch_id}[/bold]: starting (embedded Prefect)")
    with progress() as bar:
        task = bar.add_task(batch_id, total=None)

        def shown(report: BatchReport) -> None:
            bar.update(task, total=report.pages_total or None, completed=report.pages_done)

        return batches.run_here(settings, paths, options, batch_id, on_progress=shown)


def documents_table(report: dict[str, Any]) -> Table:
    """A batch's documents: source, outcome, record, pages done, and the reason if any."""
    table = Listing(title=literal(f"batch {report['batch_id']}"))
    table.add_column("source", overflow="fold")
    table.add_column("status")
    table.add_column("record", no_wrap=True)
    table.add_column("pages", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for d in report["documents"]:
        status = d["status"] + (" (review)" if d.get("needs_review") else "")
        table.add_row(d["source"], literal(status, COLOURS.get(d["status"], "white")),
                      d["record_id"] or "", f"{d.get('pages_done', 0)}/{d['pages']}",
                      d["reason"] or "")
    return table


def queue(
    paths: Annotated[list[Path], typer.Argument(help="Batch folders or single records")],
    unit: Annotated[str, typer.Option("--unit", help="Unit the records belong to")],
    series: Annotated[str, typer.Option("--series")] = "",
    classification: Annotated[str, typer.Option(
        "--classification", callback=classification_level,
        help="The records' classification; a manifest row may raise it, never lower it")
    ] = "public",
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    redo_ocr: Annotated[bool, typer.Option("--redo-ocr", help=REDO_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="On a server: follow it to the end")
                    ] = False,
    batch_id: Annotated[str | None, typer.Option(
        "--batch-id", hidden=True, callback=_checked_batch_id,
        help="The id to run it as (the web app names a batch before it starts)")] = None,
) -> None:
    """Digitise a scan batch: validate, OCR, PDF/A, store; quarantine what is bad.

    With PREFECT_API_URL set the batch is queued on that server for its workers and the
    command returns at once with the batch id (--wait follows it); otherwise it runs here."""
    from config.settings import load_settings
    from records import batches
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        stop(f"no such file or folder: {', '.join(missing)}")
    settings = load_settings()
    options = batches.BatchOptions(unit, series, classification, lang, redo_ocr)
    _check_signing(settings)
    on_server = batches.server_url(settings)
    if on_server:  # the workers' machines need the tools, not this one
        _queue_on_server(settings, paths, options, wait, as_json, batch_id)
    _check_tools(lang or settings.ocr.languages, settings.ocr.rotate_pages)
    _check_catalog(settings)
    try:
        report = run_batch(settings, paths, options, show_progress=not as_json,
                           batch_id=batch_id)
    except Exception as exc:
        from flows.retries import explain

        stop(f"the batch run failed: {explain(exc)}", ExitCode.failure)
    _show_outcome(report, as_json)
    if not as_json:
        for warning in report.warnings:
            err.print(f"[yellow]warning:[/yellow] {shown(warning)}")
    raise typer.Exit(report.exit_code())


def _show_outcome(report: BatchReport, as_json: bool) -> None:
    if as_json:
        print_json(report.outcome())
    else:
        out.print(documents_table(report.to_dict()))


def _queue_on_server(settings: Settings, paths: list[Path], options: batches.BatchOptions,
                     wait: bool, as_json: bool, batch_id: str | None) -> None:
    """Submit to the server's work pool; the scans must be on storage the workers see."""
    from records import batches, runtime
    home = runtime.prepare(settings)
    try:
        submitted = batches.submit([p.resolve() for p in paths], options, batch_id)
    except Exception as exc:
        stop(f"could not queue on {batches.server_url(settings)}: {exc}", ExitCode.failure)
    if not wait:
        if as_json:
            print_json(asdict(submitted))
        else:
            err.print(f"batch [bold]{submitted.batch_id}[/bold]: {submitted.outcome} "
                      f"(flow run {submitted.flow_run}); `records status "
                      f"{submitted.batch_id}` follows it")
        raise typer.Exit(ExitCode.ok)
    run, report = _follow(home, submitted, show_progress=not as_json)
    if report is None:
        if run.state != "COMPLETED":
            err.print(f"[red]batch {submitted.batch_id}: run {run.state.lower()}[/red] "
                      f"{shown(run.message)}")
        raise typer.Exit(ExitCode.failure)
    _show_outcome(report, as_json)
    raise typer.Exit(report.exit_code())


def _follow(home: Path, submitted: batches.Submitted,
            show_progress: bool) -> tuple[batches.RunState, BatchReport | None]:
    from records import batches
    if not show_progress:
        return batches.follow(home, submitted, lambda *_: None)
    with progress() as bar:
        task = bar.add_task(submitted.batch_id, total=None)

        def shown(report: BatchReport, state: str) -> None:
            bar.update(task, total=report.pages_total or None, completed=report.pages_done,
                       description=f"{submitted.batch_id} ({state.lower()})")

        return batches.follow(home, submitted, shown)


def _check_tools(languages: str, rotate_pages: bool) -> None:
    """Refuse to start when Tesseract, a language pack or Poppler is missing (exit 1)."""
    from ocr.tools import missing_tools

    problems = missing_tools(languages, rotate_pages)
    if problems:
        for problem in problems:
            err.print(f"[red]cannot OCR:[/red] {shown(problem)}")
        raise typer.Exit(ExitCode.failure)


def _check_catalog(settings: Settings) -> None:
    """Refuse to start when the catalog database cannot be opened (exit 1), before any work."""
    from sqlalchemy.exc import DBAPIError

    from archive.index import Catalog
    from flows.retries import explain

    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        Catalog.open(settings.catalog_url()).engine.dispose()
    except DBAPIError as exc:
        stop(f"cannot start the batch: {explain(exc)}", ExitCode.failure)


def _check_signing(settings: Settings) -> None:
    """Refuse a batch up front when its copies could not be signed (no key, wrong secret)."""
    from archive.signing import SigningError, load_signer

    if not settings.signing.enabled:
        return
    try:
        load_signer(settings.signing, settings.home.resolve())
    except SigningError as exc:
        fail(exc, "cannot sign archival copies")


def status(
    batch_id: Annotated[str | None, typer.Argument(help="A batch id (or its start)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show batches: queued, running (pages done, ETA), finished, failed or interrupted, with
    reasons; on a server, with each batch's Prefect run state."""
    from config.settings import load_settings
    from records import batches
    settings = load_settings()
    home = settings.home.resolve()
    found = batches.current_statuses(settings, batch_id)
    if found.warning:
        err.print(f"[yellow]{shown(found.warning)}[/yellow]")
    reports = found.batches
    if batch_id and not reports:
        stop(f"no batch {batch_id}")
    if as_json:
        print_json(reports[0] if batch_id else reports)
        return
    if batch_id:
        out.print(documents_table(reports[0]))
        return
    table = Listing(title=literal(f"batches in {home}"))
    table.add_column("batch", no_wrap=True)
    for column in ("state", "node", "started", "documents", "pages", "ETA"):
        table.add_column(column)
    for r in reports:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r["counts"].items()))
        eta = r["eta_seconds"] if r["effective_state"] == "running" else None
        state = r["effective_state"] + (f" ({r['reason']})" if r.get("reason") else "")
        table.add_row(r["batch_id"], state, r.get("host", ""), r["started"] or "", counts,
                      f"{r['pages_done']}/{r['pages_total']}",
                      f"{eta / 60:.0f} min" if eta is not None else "")
    out.print(table)


def demo(
    letters: Annotated[int, typer.Option(help="How many sample letters to render")] = 6,
) -> None:
    """Render sample scans (and a few broken files) and run them through a batch."""
    from config.settings import load_settings
    from records import batches, runtime
    from records.cli.copies import ensure_dev_pki
    from records.samples import render_batch, render_broken

    settings = load_settings()
    home = runtime.prepare(settings)
    ensure_dev_pki(home)
    batch = home / "demo" / "batch"
    started = time.perf_counter()
    # The letters are filed with units of the roadmap, so `records roadmap` shows progress.
    rendered = render_batch(batch, letters=letters, units=DEMO_UNITS)
    broken = render_broken(batch)
    err.print(f"rendered {len(rendered)} letters and {len(broken)} broken files into "
              f"{shown(batch)}"
              f" in {time.perf_counter() - started:.1f} s")
    report = run_batch(settings, [batch], batches.BatchOptions("LT", "demo"),
                       show_progress=True)
    out.print(documents_table(report.to_dict()))
    archived = [d for d in report.documents if d.status == "archived"]
    refused = [d for d in report.documents if d.status == "quarantined"]
    out.print(f"{len(archived)} archived under {shown(home / 'archive')}, {len(refused)} "
              f"quarantined under {shown(home / 'quarantine')}; see `records status`.")
    out.print("Next: `records search \"cong hoa\"` (no diacritics needed), `records verify --all`,"
              " `records roadmap` (the example roadmap, with this progress), "
              "`records users add NAME --role archivist --clearance internal` then "
              "`records serve`.")
    good = {p.name for p, _ in rendered}
    ok = {d.source for d in archived} == good and {d.source for d in refused} == set(broken)
    raise typer.Exit(ExitCode.ok if ok else ExitCode.failure)
