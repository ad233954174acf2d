"""Running the stages for whole documents without an orchestrator (``records ocr``, benches).

The Prefect flow calls the same stage functions as tasks; this module is the plain-Python
equivalent, for one-off conversions where starting Prefect would cost more than the OCR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ocr.assemble import DocumentInfo, assemble
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
              on_page: Callable[[PageResult], None] | None = None) -> list[PageResult]:
    """Recognise every page, in parallel up to the configured workers, in page order."""
    with ThreadPoolExecutor(max_workers=options.workers) as pool:
        futures = [pool.submit(process_page, ref, options, cache) for ref in doc.pages]
        results = []
        for future in futures:
            results.append(future.result())
            if on_page:
                on_page(results[-1])
    return results


def ocr_to_pdfa(inputs: Sequence[Path], out: Path, options: OcrOptions, cache: Path,
                info: DocumentInfo | None = None,
                on_page: Callable[[PageResult], None] | None = None) -> DocumentResult:
    """Scans in, one searchable PDF/A-2b out. Raises InputRejected or OcrFailed."""
    doc = merge_documents([open_document(path, options.max_page_pixels) for path in inputs])
    pages = ocr_pages(doc, options, cache, on_page)
    assemble(doc, pages, out, info or DocumentInfo(title=doc.source.stem))
    return DocumentResult(doc, pages, out)
