"""The ``digitise_batch`` flow: validate, OCR pages, assemble PDF/A, store, per document.

Thin orchestration over the plain functions of ``ocr`` and ``archive``: each task is one
stage, pages of every document run as mapped tasks on a thread pool bounded to the cores,
and a document that fails is quarantined (bad input) or reported (engine failure) while the
rest of the batch goes on.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from functools import partial
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
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from archive.index import Catalog, index_package
from archive.intake import (
    OUTCOMES,
    AuthorityList,
    BatchReport,
    DocumentStatus,
    Ledger,
    assign,
    describe_record,
    extract_fields,
    given_fields,
    quarantine_document,
    read_manifest,
)
from archive.roadmap import configured_authorities
from archive.signing import (
    ArchiveSigner,
    Expected,
    SigningError,
    SignOptions,
    sign_archival,
    sign_log,
    sign_options,
    verify_bytes,
    vouch_with,
)
from archive.store import (
    LEVELS,
    Descriptive,
    Event,
    RecordPaths,
    Vouch,
    archive_root,
    current_descriptive,
    dublin_core,
    keep_private,
    known_record,
    level_of,
    now,
    read_sidecar,
    recover,
    reserve_id,
    sha256_file,
    sidecar,
    store_record,
    stricter,
)
from config.errors import ExitCode, RecordsError
from config.settings import Settings, load_settings
from flows.retries import (
    DATABASE_RETRIES,
    DATABASE_RETRY_DELAYS,
    database_unavailable,
    explain,
)
from flows.roadmap import record_progress
from flows.token import load_shared_signer
from ocr import limits
from ocr.errors import InputRejected
from ocr.faults import detail as fault_detail
from ocr.faults import is_input_fault
from ocr.inputs import SourceDocument, batch_children, open_document, printable_name
from ocr.options import OcrOptions
from ocr.page import PageResult, process_page, reread_head, reread_lines
from ocr.pipeline import build_pdfa
from ocr.recognize import tesseract_version

Signing = tuple[ArchiveSigner, SignOptions]


@dataclass(frozen=True)
class Archived:
    """What became of a document that reached the archive."""

    record_id: str
    needs_review: bool
    duplicate: bool  # the same scans were archived by another batch: nothing new was written


class CopyNotVerified(SigningError):
    """The copy just signed failed the checks ``records verify`` makes: it is not stored."""


@dataclass
class WorkItem:
    """One document of a batch while it runs: its ledger entry and the tasks working on it."""

    source: Path
    status: DocumentStatus
    futures: list[PrefectFuture] = field(default_factory=list)  # every task, pages included
    pages: list[PrefectFuture] = field(default_factory=list)
    archived: PrefectFuture | None = None  # the archive_document task, once submitted
    start_pages: Callable[[], list[PrefectFuture]] | None = None  # until its pages are queued
    archive: Callable[[list[PageResult]], PrefectFuture] | None = None  # once they are done


@task(cache_policy=NO_CACHE)
def validate_document(source: Path, max_pixels: int, max_pages: int) -> SourceDocument | str:
    """The document's pages, or the reason it is refused.

    A refusal is an expected outcome, not a task failure: it is returned, so Prefect's
    run history shows failures only where something really broke.
    """
    try:
        return open_document(source, max_pixels, max_pages)
    except InputRejected as exc:
        return exc.reason
    except Exception as exc:  # a parser's own error: the document's fault, not the machine's
        if not is_input_fault(exc):
            raise
        return f"the document is damaged and cannot be read ({fault_detail(exc)})"


@task(cache_policy=NO_CACHE)
def ocr_page(ref: Any, options: OcrOptions, cache: Path) -> PageResult:
    return process_page(ref, options, cache)


@task(cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unavailable)
def archive_document(
    doc: SourceDocument, pages: list[PageResult], given: dict[str, str],
    defaults: dict[str, str], batch_id: str, home: Path, events: list[Event],
    options: OcrOptions, signing: Signing | None, catalog: Catalog,
    authorities: AuthorityList,
) -> Archived:
    """Describe, assemble, sign, commit and catalog the record; say its id, and whether it
    was known."""
    review = any(p.low_confidence for p in pages)
    archive = archive_root(home)
    asked = stricter(given.get("classification"), defaults.get("classification"))
    known = known_record(archive, doc.sha256)
    if known:
        _kept_as_asked(archive, known, asked)
        if catalog.get(known) is None:  # committed before a crash, or the catalog was lost
            index_package(catalog, archive / known)
        # Written by an earlier attempt of this very batch (a rerun, a retry): not a duplicate.
        return Archived(known, review,
                        duplicate=read_sidecar(archive / known).get("batch_id") != batch_id)
    texts = [(p.path / "page.txt").read_text(encoding="utf-8") for p in pages]
    head_again = partial(reread_head, doc.pages[0], pages[0], options) if pages else None
    lines_again = partial(reread_lines, doc.pages[0], pages[0], options) if pages else None
    extracted = extract_fields(texts, options.languages, authorities, head_again, lines_again,
                               known=given_fields(given))
    descriptive = describe_record(given, defaults, extracted, doc.source.stem)
    year = int(descriptive.date[:4]) if descriptive.date[:4].isdigit() else date.today().year
    record_id, exists = reserve_id(archive, doc.sha256, descriptive.unit, year)
    if exists:
        _kept_as_asked(archive, record_id, asked)
        return Archived(record_id, review, duplicate=True)
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home / "tmp") as work:
        pdf = Path(work) / "record.pdf"
        started = time.perf_counter()
        pages = build_pdfa(doc, pages, pdf, dublin_core(descriptive, record_id), options,
                           home / "cache" / "pages")
        assembled = round(time.perf_counter() - started, 4)
        pdf_sha = sha256_file(pdf)
        events = [*events,
                  Event("ocr", "success", f"{len(pages)} pages, {tesseract_version()}"),
                  Event("pdfa-validated", "success", "PDF/A-2b, pikepdf.pdfa",
                        checksums_out={"pdf": pdf_sha}, seconds=assembled)]
        signature = None
        if signing is not None:
            pdf, signature, signed_events = _sign_and_check(pdf, signing, descriptive,
                                                            record_id)
            events += signed_events
        technical = _technical(doc, pages, pdf, pdf_sha, descriptive, review)
        meta = sidecar(descriptive, technical, [*events, Event("stored", "success")],
                       batch_id, doc.sha256, doc.source.name, signature)
        stored = store_record(
            archive, content_sha=doc.sha256, unit=descriptive.unit, year=year,
            source=doc.source, pdf=pdf, page_dirs=[p.path for p in pages], sidecar=meta,
            record_id=record_id, vouch=_vouch(signing),
        )
    if stored.duplicate:  # the same scans, committed meanwhile by another document
        _kept_as_asked(archive, stored.record_id, asked)
    index_package(catalog, stored.path, later_checks=[])  # just committed: no checks yet
    return Archived(stored.record_id, review, stored.duplicate)


def _kept_as_asked(archive: Path, record_id: str, asked: str) -> None:
    """The same scans are archived already: refuse to call this document archived if that
    record is classified below what is asked for it now. Its level is not changed here (that
    is a correction, made on purpose by a person); the document is quarantined, saying so."""
    paths = RecordPaths(archive / record_id, record_id)
    held = current_descriptive(paths).classification  # as corrected since, if it was
    if level_of(held) < level_of(asked):
        raise InputRejected(f"the same scans are archived as {record_id}, classified {held!r},"
                            f" below the {asked!r} asked for now; raise that record's "
                            "classification instead of queueing it again")


def _sign_and_check(pdf: Path, signing: Signing, descriptive: Descriptive,
                    record_id: str) -> tuple[Path, dict[str, Any], list[Event]]:
    """Certify the copy, then verify it as ``records verify`` will, before it is stored."""
    signer, sign_opts = signing
    signed = pdf.with_name("signed.pdf")
    started = time.perf_counter()
    result = sign_archival(signer, sign_opts, pdf, signed)
    fallback = f"; without a time-stamp: {result.tsa_fallback}" if result.tsa_fallback else ""
    event = Event("signed", "success",
                  f"PAdES {result.level}, {result.signer['identity']} certificate "
                  f"{result.signer['subject']}{fallback}",
                  checksums_in={"pdf": result.unsigned_sha256},
                  checksums_out={"pdf": result.pdf_sha256,
                                 "signed_revision": result.signed_revision_sha256},
                  seconds=round(time.perf_counter() - started, 4))
    started = time.perf_counter()
    expected = Expected(result.pdf_sha256, result.as_dict(), dublin_core(descriptive, record_id))
    verdict = verify_bytes(signed.read_bytes(), signer.trust_roots, expected)
    if not verdict.ok:
        raise CopyNotVerified("the signed copy failed verification: "
                              + "; ".join(verdict.failures()))
    checked = Event("verified", "success", ", ".join(verdict.checks),
                    checksums_in={"pdf": result.pdf_sha256},
                    seconds=round(time.perf_counter() - started, 4))
    return signed, result.as_dict(), [event, checked]


@task(cache_policy=NO_CACHE)
def sign_archive_log(home: Path, signing: Signing | None) -> int | None:
    """Sign a head of the archive's log over what the batch added (and the audit and checks
    logs as they are now); return its number. Nothing to sign with, nothing signed."""
    if signing is None:
        return None
    signer, options = signing
    try:
        head, fallback = sign_log(home, signer, options)
    except SigningError as exc:  # the batch is archived either way; say why nothing was signed
        print(f"the archive's log was not signed: {exc.reason}")
        return None
    if fallback:
        print(f"log head {head.number} signed without a time-stamp: {fallback}")
    return head.number


def _vouch(signing: Signing | None) -> Vouch | None:
    """The seal's promise for each version committed (a token slot is taken as for a
    signature, inside the signer)."""
    return None if signing is None else vouch_with(signing[0])


def _technical(doc: SourceDocument, pages: list[PageResult], pdf: Path, unsigned_sha: str,
               descriptive: Descriptive, review: bool) -> dict[str, Any]:
    return {
        # Where the page cache lies is this machine's business, not the record's.
        "pages": [{k: v for k, v in asdict(p).items() if k not in ("directory", "cached")}
                  for p in pages],
        "page_count": len(pages),
        "size_in": doc.size_bytes,
        "size_out": pdf.stat().st_size,
        "pdf_sha256": sha256_file(pdf),
        "unsigned_pdf_sha256": unsigned_sha,
        "ocr_engine": tesseract_version(),
        "languages": descriptive.language,
        "mean_confidence": _mean([p.mean_confidence for p in pages]),
        "needs_review": review,
    }


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 2) if present else None


def _reason(futures: list[PrefectFuture]) -> tuple[str, str]:
    """Status and reason of a document from the first failed future among its tasks: the
    input's fault (exit code 3 in the error tree) quarantines it, anything else fails it."""
    for future in futures:
        if future.state.is_failed() or future.state.is_crashed():
            error = future.result(raise_on_failure=False)
            if isinstance(error, RecordsError):
                bad_input = error.exit_code == ExitCode.quarantined
                return ("quarantined" if bad_input else "failed"), error.reason
            return "failed", explain(error)
    return "failed", "a stage did not finish"


def _page_workers() -> int:
    """Pages recognised at once (``ocr.jobs``, 0 = the cores), read where the flow is loaded:
    a worker machine's own settings size its pool."""
    return OcrOptions.from_settings(load_settings().ocr).workers


@flow(name="digitise_batch", log_prints=True,
      task_runner=ThreadPoolTaskRunner(max_workers=_page_workers()))
def digitise_batch(
    paths: list[str], batch_id: str, unit: str, series: str = "", classification: str = "public",
    languages: str | None = None, redo_ocr: bool = False,
) -> BatchReport:
    """Digitise every record of a batch; returns the batch's report (also in its ledger)."""
    settings = load_settings()
    home = keep_private(settings.home.resolve())  # a worker's process may have any umask
    ledger = Ledger(home)
    options = OcrOptions.from_settings(settings.ocr, languages=languages,
                                       redo_ocr=redo_ocr or None)
    limits.configure(options.tool_memory_mb, home / "tmp")
    recover(archive_root(home))  # finish what a crashed run left half-committed
    signing = _signing(settings, home)
    catalog = Catalog.open(settings.catalog_url())
    authorities = configured_authorities(settings.roadmap.file, settings.authorities.file, home)
    sources = batch_sources(paths)
    report = BatchReport(batch_id, paths, host=settings.node_name(),
                         flow_run=str(flow_run.id) if flow_run.id else None, unit=unit,
                         series=series, classification=classification, languages=languages)
    report.documents = [DocumentStatus(printable_name(s.name)) for s in sources]
    manifest, refused = _manifest(sources, report, settings)
    _warn_lowered(manifest, classification, report)
    ledger.save(report)
    defaults = {"unit": unit, "series": series, "classification": classification,
                "language": options.languages}
    accepted = [s for s in sources if s not in refused]
    checks = dict(zip(accepted, [
        validate_document.submit(s, options.max_page_pixels, options.max_pages)
        for s in accepted], strict=True))
    work = []
    for source, status in zip(sources, report.documents, strict=True):
        given = manifest.get(source, {})
        status.unit = given.get("unit") or unit
        if source in refused:  # the manifest asked for what cannot be applied: fail closed
            status.status, status.reason = "quarantined", refused[source]
            status.classification = LEVELS[-1]  # what it needs cannot be told: the strictest
            quarantine_document(home, batch_id, source, refused[source])
            continue
        status.classification = stricter(given.get("classification"), classification)
        work.append(_start_document(source, status, checks[source], given, defaults, options,
                                    home, batch_id, (signing, catalog, authorities)))
    _follow(work, report, home)
    report.state, report.finished = "finished", now()
    ledger.save(report)
    create_table_artifact(
        [{"source": d.source, "record_id": d.record_id or "", "status": d.status,
          "reason": d.reason or "", "pages": d.pages} for d in report.documents],
        key="batch-summary", description=f"Batch {batch_id}: {report.counts()}",
    )
    record_progress(report, catalog)
    sign_archive_log(home, signing)
    return report


def batch_sources(paths: list[str]) -> list[Path]:
    """The records of a batch: the children of each folder given, and each file given."""
    sources: list[Path] = []
    for raw in paths:
        path = Path(raw)
        sources += batch_children(path) if path.is_dir() and not path.is_symlink() else [path]
    return sources


def _manifest(sources: list[Path], report: BatchReport, settings: Settings
              ) -> tuple[dict[Path, dict[str, str]], dict[Path, str]]:
    """Each document's manifest fields, and the documents the manifest refuses (with why).

    Every folder's manifest applies to the documents in that folder only, and is read against
    all of them, queued or not: the folder's other names still make a row ambiguous, and a
    row naming none of them refuses the folder's queued documents."""
    folders: dict[Path, list[Path]] = {}
    for source in sources:
        folders.setdefault(source.parent, []).append(source)
    fields: dict[Path, dict[str, str]] = {}
    refused: dict[Path, str] = {}
    for folder, members in folders.items():
        names = sorted({s.name for s in members} | {s.name for s in batch_children(folder)})
        applied = assign(read_manifest(folder, settings.intake.manifest_encoding), names)
        report.warnings += applied.warnings
        for source in members:
            if source.name in applied.refused:
                refused[source] = applied.refused[source.name]
            elif source.name in applied.fields:
                fields[source] = applied.fields[source.name]
    return fields, refused


def _warn_lowered(manifest: dict[Path, dict[str, str]], classification: str,
                  report: BatchReport) -> None:
    """Say where a manifest row asks for less protection than the batch: the stricter of
    the two is what the record gets (``describe_record``)."""
    for source, fields in manifest.items():
        asked = fields.get("classification")
        if asked and level_of(asked) < level_of(classification):
            report.warnings.append(
                f"{printable_name(source.name)}: the manifest asks for {asked!r}, below the "
                f"batch's {classification!r}; it is archived as {classification!r}")


def _signing(settings: Settings, home: Path) -> Signing | None:
    """The key, loaded once for the whole batch (never per document), or None if off."""
    if not settings.signing.enabled:
        return None
    return load_shared_signer(settings.signing, home), sign_options(settings.signing)


def _start_document(source: Path, status: DocumentStatus, check: PrefectFuture,
                    given: dict[str, str], defaults: dict[str, str], options: OcrOptions,
                    home: Path, batch_id: str,
                    services: tuple[Signing | None, Catalog, AuthorityList]) -> WorkItem:
    """Once a document is validated, submit its pages and its archiving."""
    check.wait()
    item = WorkItem(source, status)
    if not check.state.is_completed():
        item.futures = [check]
        return item
    doc = check.result()
    if isinstance(doc, str):
        status.status, status.reason = "quarantined", doc
        quarantine_document(home, batch_id, source, doc)
        return item
    status.pages = len(doc.pages)
    doc_options = replace(options, languages=given.get("language") or defaults["language"])
    events = [Event("received", "success", str(source)),
              Event("validated", "success", checksums_in=doc.checksums)]
    item.start_pages = lambda: list(ocr_page.map(doc.pages, unmapped(doc_options),
                                                 unmapped(home / "cache" / "pages")))
    item.archive = lambda pages: archive_document.submit(
        doc, pages, given, defaults, batch_id, home, events, doc_options, *services)
    return item


def _follow(work: list[WorkItem], report: BatchReport, home: Path) -> None:
    """Run the batch's pages and archiving, saving progress to the ledger and the progress
    artifact.

    Pages are queued a few per page worker ahead, not all at once, and a document's archiving
    is queued only once its pages are done: the task runner's threads are the page workers,
    and a task waiting there for its inputs holds a thread (a core) idle. So every worker
    recognises or archives, and documents are archived as the batch goes, not at its end.
    """
    total = max(1, report.pages_total)
    artifact = create_progress_artifact(0.0, key="batch-progress",
                                        description=f"Batch {report.batch_id}: pages done")
    waiting = [item for item in work if item.start_pages is not None]
    pending = {f for item in work for f in item.futures}
    finished: set[PrefectFuture] = set()
    window = _QUEUED_PER_WORKER * _page_workers()
    while pending or waiting:
        pending |= _queue_pages(waiting, pending, window)
        done, pending = wait(list(pending), timeout=1.0)
        for future in done:
            # Takes the state from the finished local run: the server's copy can lag behind.
            future.wait()
        finished |= done
        pending |= _queue_archiving(work, finished)
        for item in work:
            if _update_status(item, finished) == "quarantined":
                quarantine_document(home, report.batch_id, item.source,
                                    item.status.reason or "")
        Ledger(home).save(report)
        update_progress_artifact(artifact, 100.0 * report.pages_done / total)


_QUEUED_PER_WORKER = 2  # pages queued ahead per page worker: none idles between two tasks


def _queue_pages(waiting: list[WorkItem], pending: set[PrefectFuture], window: int
                 ) -> set[PrefectFuture]:
    """Queue the next documents' pages while fewer than *window* tasks wait or run."""
    queued: set[PrefectFuture] = set()
    while waiting and len(pending) + len(queued) < window:
        item = waiting.pop(0)
        item.pages = item.start_pages() if item.start_pages else []
        item.start_pages = None
        item.futures = [*item.futures, *item.pages]
        queued |= set(item.pages)
    return queued


def _queue_archiving(work: list[WorkItem], finished: set[PrefectFuture]
                     ) -> set[PrefectFuture]:
    """Queue the archiving of each document whose pages are all recognised."""
    queued: set[PrefectFuture] = set()
    for item in work:
        if item.archive is None or not item.pages or any(f not in finished for f in item.pages):
            continue
        if all(f.state.is_completed() for f in item.pages):
            item.archived = item.archive([f.result() for f in item.pages])
            item.futures = [*item.futures, item.archived]
            queued.add(item.archived)
        item.archive = None  # a failed page: the document ends with its reason, unarchived
    return queued


def _update_status(item: WorkItem, finished: set[PrefectFuture]) -> str | None:
    """Bring a document's ledger entry up to date; return its outcome if it just ended."""
    status = item.status
    status.pages_done = sum(1 for f in item.pages if f in finished)
    if status.status in OUTCOMES:
        return None
    ended = [f for f in item.futures if f in finished]
    if any(f.state.is_failed() or f.state.is_crashed() for f in ended):
        status.status, status.reason = _reason(ended)
        return status.status
    if item.archived is not None and item.archived in finished \
            and item.archived.state.is_completed():
        outcome: Archived = item.archived.result()
        status.status, status.record_id = "archived", outcome.record_id
        status.needs_review = outcome.needs_review
        if outcome.duplicate:
            status.reason = f"already archived as {outcome.record_id}; nothing new was written"
        return status.status
    if ended:
        status.status = "running"
    return None
