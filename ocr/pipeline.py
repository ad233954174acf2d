"""Running the stages for whole documents without an orchestrator (``records ocr``, benches).

The Prefect flow calls the same stage functions as tasks; this module is the plain-Python
equivalent, for one-off conversions where starting Prefect would cost more than the OCR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from ocr.assemble import DocumentInfo, NotPdfa, assemble
from ocr.errors import InputRejected
from ocr.inputs import PageRef, SourceDocument, open_document
from ocr.options import OcrOptions
from ocr.page import PageResult, process_page


@dataclass
class DocumentResult:
    document: SourceDocument
    pages: list[PageResult]
    pdf: Path


def merge_documents(docs: Sequence[SourceDocument]) -> SourceDocument:
    """Several inputs as one document (``records ocr a.tif b.pdf -o out.pdf``), renumbered."""
    if len(docs) == 1:
        return docs[0]
    pages: list[PageRef] = []
    checksums: dict[str, str] = {}
    for doc in docs:
        for ref in doc.pages:
            pages.append(PageRef(ref.path, ref.kind, ref.index, len(pages) + 1,
                                 ref.file_sha256, ref.raster_dpi))
        checksums.update({f"{doc.source.name}/{k}": v for k, v in doc.checksums.items()})
    files = tuple(f for doc in docs for f in doc.files)
    return SourceDocument(docs[0].source, files, tuple(pages), checksums,
                          sum(d.size_bytes for d in docs))


def ocr_pages(doc: SourceDocument, options: OcrOptions, cache: Path,
              on_page: Callable[[PageResult], None] | None = None,
              pool: Executor | None = None) -> list[PageResult]:
    """Recognise every page, in parallel up to the configured workers, in page order.

    Pass a shared *pool* to convert several documents at once without idle cores between
    them (the batch flow does the same with Prefect's task runner).
    """
    with ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=options.workers))
        futures = [pool.submit(process_page, ref, options, cache) for ref in doc.pages]
        results = []
        for future in futures:
            results.append(future.result())
            if on_page:
                on_page(results[-1])
    return results


def build_pdfa(doc: SourceDocument, pages: list[PageResult], out: Path, info: DocumentInfo,
               options: OcrOptions, cache: Path) -> list[PageResult]:
    """Assemble the PDF/A; if PDF pages carried over whole break it, render them instead.

    Born-digital pages often use fonts that are not embedded, which PDF/A forbids. Such pages
    are drawn as images at their raster resolution (lossless), OCR'd, and noted as rendered;
    image pages are re-encoded losslessly without their colour profile. The originals stay
    in the record either way. Pages whose text was redone (``--redo-ocr``) are always
    rendered, so no page carries two text layers.
    """
    pages = [_redone(p) for p in pages]
    try:
        assemble(doc, pages, out, info)
        return pages
    except NotPdfa as first:
        if all(p.rendered for p in pages):
            raise InputRejected(f"cannot be made into PDF/A-2b: {first.reason}") from first
        redo = replace(options, redo_ocr=True)
        fixed = [_rendered(process_page(ref, redo, cache) if not p.ocr else p, first.reason)
                 for ref, p in zip(doc.pages, pages, strict=True)]
        try:
            assemble(doc, fixed, out, info)
        except NotPdfa as second:
            raise InputRejected(f"cannot be made into PDF/A-2b: {second.reason}") from second
        return fixed


def _redone(page: PageResult) -> PageResult:
    return replace(page, rendered=True) if page.ocr and page.had_text else page


def _rendered(page: PageResult, why: str) -> PageResult:
    note = f"re-encoded: the page as given breaks PDF/A ({why})"
    return replace(page, rendered=True, notes=[*page.notes, note])


def ocr_to_pdfa(inputs: Sequence[Path], out: Path, options: OcrOptions, cache: Path,
                info: DocumentInfo | None = None,
                on_page: Callable[[PageResult], None] | None = None,
                pool: Executor | None = None) -> DocumentResult:
    """Scans in, one searchable PDF/A-2b out. Raises InputRejected or OcrFailed."""
    doc = merge_documents([open_document(path, options.max_page_pixels, options.max_pages)
                           for path in inputs])
    pages = ocr_pages(doc, options, cache, on_page, pool)
    pages = build_pdfa(doc, pages, out, info or DocumentInfo(title=doc.source.stem), options,
                       cache)
    return DocumentResult(doc, pages, out)
