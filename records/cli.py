"""The ``records`` command: what records officers, archivists and managers type.

Exit codes are stable (scripts depend on them): 0 all done, 1 the run failed, 2 usage,
3 some documents were refused (quarantined).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from archive import batches
from config.settings import load_settings
from ocr.errors import ExitCode, InputRejected, OcrFailed
from records import admin, archivists, copies, hotfolder, managers, runtime, serving

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Paper records in, signed and searchable PDF/A archive out.")
console = Console(stderr=True)
LANG_HELP = "Tesseract languages joined by +, e.g. vie+eng (default: settings)"
REDO_HELP = "Re-OCR PDF pages that already have a text layer"
DEMO_UNITS = ("VP", "LT", "HN")  # units of the example roadmap (config/roadmap.toml)
out = Console()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("pages"), TimeRemainingColumn(), console=console, transient=True)


@app.command()
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
    from ocr import limits
    from ocr.assemble import DocumentInfo
    from ocr.options import OcrOptions
    from ocr.pipeline import ocr_to_pdfa

    settings = load_settings()
    home = runtime.prepare(settings)
    options = OcrOptions.from_settings(settings.ocr, languages=lang, redo_ocr=redo_ocr or None,
                                       rotate_pages=rotate, deskew=deskew, jobs=jobs)
    _check_tools(options.languages, options.rotate_pages)
    limits.configure(options.tool_memory_mb, home / "tmp")
    try:
        with _progress() as bar:
            task = bar.add_task(output.name, total=None)
            result = ocr_to_pdfa(inputs, output, options, home / "cache" / "pages",
                                 DocumentInfo(title=output.stem),
                                 on_page=lambda _: bar.advance(task))
    except InputRejected as exc:
        console.print(f"[red]refused:[/red] {exc.reason}")
        raise typer.Exit(ExitCode.quarantined) from exc
    except OcrFailed as exc:
        console.print(f"[red]failed:[/red] {exc.reason}")
        raise typer.Exit(ExitCode.failure) from exc
    review = [p.number for p in result.pages if p.low_confidence]
    console.print(f"wrote {output} ({len(result.pages)} pages, PDF/A-2b)"
                  + (f"; low confidence on pages {review}" if review else ""))


def run_batch(paths: list[Path], unit: str, series: str, classification: str,
              lang: str | None, redo_ocr: bool, show_progress: bool) -> dict[str, Any]:
    """Run ``digitise_batch`` in this process (Prefect's embedded mode), showing progress."""
    settings = load_settings()
    home = runtime.prepare(settings)
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.digitise import digitise_batch
    from ocr.options import OcrOptions

    workers = OcrOptions.from_settings(settings.ocr).workers
    batch = runtime.batch_id(paths)
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(home, batch, done), daemon=True)
    if show_progress:
        console.print(f"batch [bold]{batch}[/bold]: starting (embedded Prefect)")
        watcher.start()
    try:
        flow = digitise_batch.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
        return flow(paths=[str(p.resolve()) for p in paths], batch_id=batch, unit=unit,
                    series=series, classification=classification, languages=lang,
                    redo_ocr=redo_ocr)
    except Exception as exc:
        _mark_failed(home, batch, exc)
        raise
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()


def _mark_failed(home: Path, batch: str, exc: Exception) -> None:
    found = batches.find(home, batch)
    if found:
        found[0].state, found[0].error, found[0].finished = "failed", str(exc), batches.now()
        batches.save(home, found[0])


def _watch(home: Path, batch: str, done: threading.Event) -> None:
    """Follow the batch through its ledger file, as any other process could."""
    with _progress() as bar:
        task = bar.add_task(batch, total=None)
        while not done.wait(0.5):
            found = batches.find(home, batch)
            if found:
                bar.update(task, total=found[0].pages_total or None,
                           completed=found[0].pages_done)


def _exit_code(report: dict[str, Any]) -> int:
    statuses = {d["status"] for d in report["documents"]}
    if "failed" in statuses:
        return ExitCode.failure
    if "quarantined" in statuses:
        return ExitCode.quarantined
    return ExitCode.ok


def _public(report: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": report["batch_id"],
            "documents": [{k: d[k] for k in ("source", "record_id", "status", "reason", "pages")}
                          for d in report["documents"]]}


def _documents_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"batch {report['batch_id']}")
    table.add_column("source", overflow="fold")
    table.add_column("status")
    table.add_column("record", no_wrap=True)
    table.add_column("pages", no_wrap=True)
    table.add_column("reason", overflow="fold")
    colour = {"archived": "green", "quarantined": "yellow", "failed": "red"}
    for d in report["documents"]:
        status = d["status"] + (" (review)" if d.get("needs_review") else "")
        table.add_row(d["source"], f"[{colour.get(d['status'], 'white')}]{status}[/]",
                      d["record_id"] or "", f"{d.get('pages_done', 0)}/{d['pages']}",
                      d["reason"] or "")
    return table


@app.command()
def queue(
    paths: Annotated[list[Path], typer.Argument(help="Batch folders or single records")],
    unit: Annotated[str, typer.Option("--unit", help="Unit the records belong to")],
    series: Annotated[str, typer.Option("--series")] = "",
    classification: Annotated[str, typer.Option("--classification")] = "public",
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    redo_ocr: Annotated[bool, typer.Option("--redo-ocr", help=REDO_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="On a server: follow it to the end")
                    ] = False,
) -> None:
    """Digitise a scan batch: validate, OCR, PDF/A, store; quarantine what is bad.

    With PREFECT_API_URL set the batch is queued on that server for its workers and the
    command returns at once with the batch id (--wait follows it); otherwise it runs here."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        console.print(f"[red]no such file or folder:[/red] {', '.join(missing)}")
        raise typer.Exit(ExitCode.usage)
    _check_signing()
    if not serving.server_url():  # on a server the workers' machines need the tools, not this one
        ocr = load_settings().ocr
        _check_tools(lang or ocr.languages, ocr.rotate_pages)
        _check_catalog()
    if serving.server_url():
        _queue_on_server(paths, {"unit": unit, "series": series,
                                 "classification": classification, "languages": lang,
                                 "redo_ocr": redo_ocr}, wait, as_json)
    try:
        report = run_batch(paths, unit, series, classification, lang, redo_ocr,
                           show_progress=not as_json)
    except Exception as exc:
        from flows.retries import explain

        console.print(f"[red]the batch run failed:[/red] {explain(exc)}")
        raise typer.Exit(ExitCode.failure) from exc
    if as_json:
        out.print_json(json.dumps(_public(report), ensure_ascii=False))
    else:
        out.print(_documents_table(report))
        for warning in report["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {warning}")
    raise typer.Exit(_exit_code(report))


def _queue_on_server(paths: list[Path], options: dict[str, Any], wait: bool,
                     as_json: bool) -> None:
    """Submit to the server's work pool; the scans must be on storage the workers see."""
    home = runtime.prepare(load_settings())
    resolved = [p.resolve() for p in paths]
    try:
        submitted = serving.submit(resolved, {"paths": [str(p) for p in resolved], **options})
    except Exception as exc:
        console.print(f"[red]could not queue on {serving.server_url()}:[/red] {exc}")
        raise typer.Exit(ExitCode.failure) from None
    if not wait:
        if as_json:
            out.print_json(json.dumps(asdict(submitted)))
        else:
            console.print(f"batch [bold]{submitted.batch_id}[/bold]: {submitted.outcome} "
                          f"(flow run {submitted.flow_run}); `records status "
                          f"{submitted.batch_id}` follows it")
        raise typer.Exit(ExitCode.ok)
    report = serving.follow(home, submitted, show_progress=not as_json)
    if report is None:
        raise typer.Exit(ExitCode.failure)
    if as_json:
        out.print_json(json.dumps(_public(report), ensure_ascii=False))
    else:
        out.print(_documents_table(report))
    raise typer.Exit(_exit_code(report))


def _check_tools(languages: str, rotate_pages: bool) -> None:
    """Refuse to start when Tesseract, a language pack or Poppler is missing (exit 1)."""
    from ocr.tools import missing_tools

    problems = missing_tools(languages, rotate_pages)
    if problems:
        for problem in problems:
            console.print(f"[red]cannot OCR:[/red] {problem}")
        raise typer.Exit(ExitCode.failure)


def _check_catalog() -> None:
    """Refuse to start when the catalog database cannot be opened (exit 1), before any work."""
    from sqlalchemy.exc import DBAPIError

    from archive.catalog import Catalog
    from flows.retries import explain

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        Catalog.open(settings.catalog_url()).engine.dispose()
    except DBAPIError as exc:
        console.print(f"[red]cannot start the batch:[/red] {explain(exc)}")
        raise typer.Exit(ExitCode.failure) from None


def _check_signing() -> None:
    """Refuse a batch up front when its copies could not be signed (no key, wrong secret)."""
    from archive.sign import SigningError, load_signer

    settings = load_settings()
    if not settings.signing.enabled:
        return
    try:
        load_signer(settings.signing, settings.home.resolve())
    except SigningError as exc:
        console.print(f"[red]cannot sign archival copies:[/red] {exc}")
        raise typer.Exit(ExitCode.usage) from None


@app.command()
def status(
    batch_id: Annotated[str | None, typer.Argument(help="A batch id (or its start)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show batches: queued, running (pages done, ETA), finished, failed or interrupted, with
    reasons; on a server, with each batch's Prefect run state."""
    settings = load_settings()
    home = settings.home.resolve()
    # The server first, the ledger after: a run the server calls finished wrote its ledger
    # before it finished, so the ledger read next is final too (the other order races).
    runs = _server_runs()
    found = batches.find(home, batch_id)
    reports = [_with_run(r.to_dict(), runs.get(r.batch_id), settings.node_name())
               for r in found]
    known = {r["batch_id"] for r in reports}
    reports += [_queued(b, run) for b, run in runs.items()
                if b not in known and (not batch_id or b.startswith(batch_id))]
    if batch_id and not reports:
        console.print(f"[red]no batch {batch_id}[/red]")
        raise typer.Exit(ExitCode.usage)
    if as_json:
        out.print_json(json.dumps(reports[0] if batch_id else reports, ensure_ascii=False))
        return
    if batch_id:
        out.print(_documents_table(reports[0]))
        return
    table = Table(title=f"batches in {home}")
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


def _server_runs() -> dict[str, dict[str, str]]:
    """The server's view of batches, or nothing in embedded mode (or if it does not answer:
    the ledger alone is still worth showing)."""
    if not serving.server_url():
        return {}
    runtime.prepare(load_settings())
    try:
        return serving.server_runs()
    except Exception as exc:
        console.print(f"[yellow]the Prefect server did not answer ({exc}); showing the "
                      "ledger only[/yellow]")
        return {}


def _with_run(report: dict[str, Any], run: dict[str, str] | None,
              here: str) -> dict[str, Any]:
    """A ledger entry judged with its Prefect run: a 'running' batch whose run crashed (its
    worker died: the heartbeat automation said so) is 'interrupted', with the reason."""
    report["effective_state"] = batches.BatchReport(
        report["batch_id"], report["paths"], report["state"], host=report["host"],
        pid=report["pid"]).effective_state(here)
    if run:
        report["prefect_state"], report["flow_run"] = run["state"], run["flow_run"]
        if report["state"] == "running" and run["state"] in serving.RERUNNABLE:
            report["effective_state"] = "interrupted"
            report["reason"] = (f"run {run['state'].lower()}: {run['message']}; "
                                "`records queue` with the same scans reruns it")
    return report


def _queued(batch: str, run: dict[str, str]) -> dict[str, Any]:
    waiting = run["state"] in ("SCHEDULED", "PENDING", "PAUSED", "LATE")
    return {"batch_id": batch, "state": "queued" if waiting else run["state"].lower(),
            "effective_state": "queued" if waiting else run["state"].lower(),
            "prefect_state": run["state"], "flow_run": run["flow_run"], "host": "",
            "started": "", "counts": {}, "pages_done": 0, "pages_total": 0,
            "eta_seconds": None, "documents": [], "reason": run["message"] or None}


@app.command()
def demo(
    letters: Annotated[int, typer.Option(help="How many sample letters to render")] = 6,
) -> None:
    """Render sample scans (and a few broken files) and run them through a batch."""
    from records.samples import render_batch, render_broken

    home = runtime.prepare(load_settings())
    copies.ensure_dev_pki(home)
    batch = home / "demo" / "batch"
    started = time.perf_counter()
    # The letters are filed with units of the roadmap, so `records roadmap` shows progress.
    rendered = render_batch(batch, letters=letters, units=DEMO_UNITS)
    broken = render_broken(batch)
    console.print(f"rendered {len(rendered)} letters and {len(broken)} broken files into {batch}"
                  f" in {time.perf_counter() - started:.1f} s")
    report = run_batch([batch], "LT", "demo", "public", None, False, show_progress=True)
    out.print(_documents_table(report))
    archived = [d for d in report["documents"] if d["status"] == "archived"]
    refused = [d for d in report["documents"] if d["status"] == "quarantined"]
    out.print(f"{len(archived)} archived under {home / 'archive'}, {len(refused)} quarantined "
              f"under {home / 'quarantine'}; see `records status`.")
    out.print("Next: `records search \"cong hoa\"` (no diacritics needed), `records verify --all`,"
              " `records roadmap` (the example roadmap, with this progress), "
              "`records users add NAME --role archivist --clearance internal` then "
              "`records serve`.")
    good = {p.name for p, _ in rendered}
    ok = {d["source"] for d in archived} == good and {d["source"] for d in refused} == set(broken)
    raise typer.Exit(ExitCode.ok if ok else ExitCode.failure)


app.command("search")(archivists.search_command)
app.command()(archivists.show)
app.command()(archivists.export)
app.command()(archivists.reindex)
app.command()(admin.serve)
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.audit_app, name="audit")
app.command()(copies.verify)
app.command()(copies.renew)
app.add_typer(copies.keys_app, name="keys")
app.add_typer(managers.roadmap_app, name="roadmap")
app.add_typer(serving.server_app, name="server")
app.add_typer(serving.worker_app, name="worker")
app.command()(serving.deploy)
app.command()(hotfolder.watch)

if __name__ == "__main__":
    app()
