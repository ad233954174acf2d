"""The ``digitise_batch`` flow: validate, OCR pages, assemble PDF/A, store, per document.

Thin orchestration over the plain functions of ``ocr`` and ``archive``: each task is one
stage, pages of every document run as mapped tasks on a thread pool bounded to the cores,
and a document that fails is quarantined (bad input) or reported (engine failure) while the
rest of the batch goes on.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task, unmapped
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import ThreadPoolTaskRunner

from archive import batches
from archive.files import sha256_file
from archive.manifest import read_manifest
from archive.metadata import Descriptive, Event, sidecar
from archive.quarantine import quarantine
from archive.store import known_record, store_record
from config.settings import load_settings
from ocr.assemble import DocumentInfo
from ocr.errors import InputRejected, OcrFailed
from ocr.inputs import SourceDocument, batch_children, open_document
from ocr.options import OcrOptions
from ocr.page import PageResult, process_page
from ocr.pipeline import build_pdfa
from ocr.recognize import tesseract_version


@task(cache_policy=NO_CACHE)
def validate_document(source: Path, max_pixels: int) -> SourceDocument | str:
    """The document's pages, or the reason it is refused.

    A refusal is an expected outcome, not a task failure: it is returned, so Prefect's
    run history shows failures only where something really broke.
    """
    try:
        return open_document(source, max_pixels)
    except InputRejected as exc:
        return exc.reason


@task(cache_policy=NO_CACHE)
def ocr_page(ref: Any, options: OcrOptions, cache: Path) -> PageResult:
    return process_page(ref, options, cache)


@task(cache_policy=NO_CACHE)
def archive_document(
    doc: SourceDocument, pages: list[PageResult], descriptive: Descriptive, batch_id: str,
    home: Path, events: list[Event], options: OcrOptions,
) -> dict[str, Any]:
    """Assemble the PDF/A and commit the record; say its id, and whether it was known."""
    known = known_record(home / "archive", doc.sha256)
    if known:
        return {"record_id": known, "duplicate": True,
                "needs_review": any(p.low_confidence for p in pages)}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home / "tmp") as work:
        pdf = Path(work) / "record.pdf"
        info = DocumentInfo(title=descriptive.title, author=descriptive.unit,
                            language=descriptive.bcp47)
        pages = build_pdfa(doc, pages, pdf, info, options, home / "cache" / "pages")
        pdf_sha = sha256_file(pdf)
        events = [*events,
                  Event("ocr", "success", f"{len(pages)} pages, {tesseract_version()}"),
                  Event("pdfa-validated", "success", "PDF/A-2b, pikepdf.pdfa",
                        checksums_out={"pdf": pdf_sha})]
        technical = {
            # Where the page cache lies is this machine's business, not the record's.
            "pages": [{k: v for k, v in asdict(p).items() if k not in ("directory", "cached")}
                      for p in pages],
            "page_count": len(pages),
            "size_in": doc.size_bytes,
            "size_out": pdf.stat().st_size,
            "pdf_sha256": pdf_sha,
            "languages": descriptive.language,
            "mean_confidence": _mean([p.mean_confidence for p in pages]),
            "needs_review": any(p.low_confidence for p in pages),
        }
        year = int(descriptive.date[:4]) if descriptive.date[:4].isdigit() else date.today().year
        meta = sidecar(descriptive, technical, [*events, Event("stored", "success")],
                       batch_id, doc.sha256, doc.source.name)
        stored = store_record(
            home / "archive", content_sha=doc.sha256, unit=descriptive.unit, year=year,
            source=doc.source, pdf=pdf, page_dirs=[p.path for p in pages], sidecar=meta,
        )
    return {"record_id": stored.record_id, "duplicate": stored.duplicate,
            "needs_review": technical["needs_review"]}


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 2) if present else None


def _reason(futures: list[PrefectFuture]) -> tuple[str, str]:
    """Status and reason of a document from the first failed future among its tasks."""
    for future in futures:
        if future.state.is_failed() or future.state.is_crashed():
            error = future.result(raise_on_failure=False)
            if isinstance(error, InputRejected):
                return "quarantined", error.reason
            if isinstance(error, OcrFailed):
                return "failed", error.reason
            return "failed", f"{type(error).__name__}: {error}"
    return "failed", "a stage did not finish"


@flow(name="digitise_batch", log_prints=True,
      task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count() or 1))
def digitise_batch(
    paths: list[str], batch_id: str, unit: str, series: str = "", classification: str = "public",
    languages: str | None = None, redo_ocr: bool = False,
) -> dict[str, Any]:
    """Digitise every record of a batch; returns the batch report as a dict."""
    settings = load_settings()
    home = settings.home.resolve()
    options = OcrOptions.from_settings(settings.ocr, languages=languages,
                                       redo_ocr=redo_ocr or None)
    sources = batch_sources(paths)
    report = batches.BatchReport(batch_id, paths)
    report.documents = [batches.DocumentStatus(s.name) for s in sources]
    manifest = _manifest(paths, report)
    batches.save(home, report)
    defaults = {"unit": unit, "series": series, "classification": classification,
                "language": options.languages}
    checks = [validate_document.submit(s, options.max_page_pixels) for s in sources]
    work = []
    for source, status, check in zip(sources, report.documents, checks, strict=True):
        given = {**defaults, **manifest.get(source.name, {})}
        work.append(_start_document(source, status, check, given, options, home, batch_id))
    _follow(work, report, home)
    report.state, report.finished = "finished", batches.now()
    batches.save(home, report)
    create_table_artifact(
        [{"source": d.source, "record_id": d.record_id or "", "status": d.status,
          "reason": d.reason or "", "pages": d.pages} for d in report.documents],
        key="batch-summary", description=f"Batch {batch_id}: {report.counts()}",
    )
    return report.to_dict()


def batch_sources(paths: list[str]) -> list[Path]:
    """The records of a batch: the children of each folder given, and each file given."""
    sources: list[Path] = []
    for raw in paths:
        path = Path(raw)
        sources += batch_children(path) if path.is_dir() and not path.is_symlink() else [path]
    return sources


def _manifest(paths: list[str], report: batches.BatchReport) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for folder in dict.fromkeys(p if p.is_dir() else p.parent for p in map(Path, paths)):
        manifest = read_manifest(folder)
        report.warnings += manifest.warnings
        rows.update(manifest.rows)
    return rows


def _start_document(source: Path, status: batches.DocumentStatus, check: PrefectFuture,
                    given: dict[str, str], options: OcrOptions, home: Path,
                    batch_id: str) -> dict[str, Any]:
    """Once a document is validated, submit its pages and its archiving."""
    check.wait()
    where = {"source": source, "status": status, "home": home, "batch_id": batch_id}
    if not check.state.is_completed():
        return {**where, "futures": [check], "pages": []}
    doc = check.result()
    if isinstance(doc, str):
        status.status, status.reason = "quarantined", doc
        quarantine(home, batch_id, source, doc)
        return {**where, "futures": [], "pages": []}
    status.pages = len(doc.pages)
    descriptive = Descriptive(
        title=given.get("title") or source.stem, unit=given["unit"], series=given["series"],
        classification=given["classification"], date=given.get("date", ""),
        language=given["language"],
    )
    doc_options = replace(options, languages=descriptive.language)
    pages = ocr_page.map(doc.pages, unmapped(doc_options), unmapped(home / "cache" / "pages"))
    events = [Event("received", "success", str(source)),
              Event("validated", "success", checksums_in=doc.checksums)]
    archived = archive_document.submit(doc, pages, descriptive, batch_id, home, events,
                                       doc_options)
    return {**where, "futures": [*pages, archived], "pages": list(pages), "archived": archived}


def _follow(work: list[dict[str, Any]], report: batches.BatchReport, home: Path) -> None:
    """Wait for the batch, saving progress to the ledger and the progress artifact."""
    total = max(1, report.pages_total)
    artifact = create_progress_artifact(0.0, key="batch-progress",
                                        description=f"Batch {report.batch_id}: pages done")
    pending = {f for item in work for f in item["futures"]}
    finished: set[PrefectFuture] = set()
    while pending:
        done, pending = wait(list(pending), timeout=1.0)
        for future in done:
            # Takes the state from the finished local run: the server's copy can lag behind.
            future.wait()
        finished |= done
        for item in work:
            _update_status(item, finished)
        batches.save(home, report)
        update_progress_artifact(artifact, 100.0 * report.pages_done / total)


def _update_status(item: dict[str, Any], finished: set[PrefectFuture]) -> None:
    status: batches.DocumentStatus = item["status"]
    status.pages_done = sum(1 for f in item["pages"] if f in finished)
    if status.status in ("archived", "quarantined", "failed"):
        return
    ended = [f for f in item["futures"] if f in finished]
    if any(f.state.is_failed() or f.state.is_crashed() for f in ended):
        status.status, status.reason = _reason(ended)
        if status.status == "quarantined":
            quarantine(item["home"], item["batch_id"], item["source"], status.reason or "")
    elif item.get("archived") in finished and item["archived"].state.is_completed():
        outcome = item["archived"].result()
        status.status, status.record_id = "archived", outcome["record_id"]
        status.needs_review = outcome["needs_review"]
        if outcome["duplicate"]:
            status.reason = f"already archived as {outcome['record_id']}; nothing new was written"
    elif ended:
        status.status = "running"
