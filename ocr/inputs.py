"""Turning a batch child (a folder of pages, a TIFF, an image, a PDF) into checked page refs.

Everything that can be refused cheaply is refused here, before any page is recognised, with a
reason a records officer understands. Nothing here writes to the input.
"""

from __future__ import annotations

import hashlib
import re
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from PIL import Image

from ocr.errors import InputRejected
from ocr.faults import reading
from ocr.sniff import IMAGE_FORMATS, describe_unknown, sniff

# The pixel limit is checked by us, per page, against the configured maximum; Pillow's own
# global guard would otherwise refuse pages below our limit or warn on every large scan.
Image.MAX_IMAGE_PIXELS = None

PDF_RASTER_DPI_RANGE = (300.0, 600.0)
IGNORED_NAMES = {"READY"}  # the hot folder's marker (see _ignored for the rest)


@dataclass(frozen=True)
class PageRef:
    """One page of a document: which file, which frame or PDF page, and its place."""

    path: Path
    kind: str  # "image" or "pdf"
    index: int  # frame (image) or page (PDF) index within the file, from 0
    number: int  # page number within the document, from 1
    file_sha256: str
    raster_dpi: float = 0.0  # PDF pages: the resolution OCR rasterises at


@dataclass(frozen=True)
class SourceDocument:
    """A record's scans as found in the batch, in page order, with their checksums."""

    source: Path
    files: tuple[Path, ...]
    pages: tuple[PageRef, ...]
    checksums: dict[str, str] = field(default_factory=dict)  # relative name -> sha256
    size_bytes: int = 0

    @property
    def sha256(self) -> str:
        """Content hash of the whole document: same scans, same hash, wherever they lie."""
        digest = hashlib.sha256()
        for name in sorted(self.checksums):
            digest.update(self.checksums[name].encode())
        return digest.hexdigest()


def natural_key(name: str) -> list[object]:
    """Sort key that puts page-2 before page-10."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]


def _ignored(name: str) -> bool:
    """Files of a batch folder that are not documents: its manifest in any form and case
    (``Manifest.CSV``, ``manifest.xlsx``: the intake refuses what it cannot read, so a
    manifest never slips through as a document), the READY marker, desktop litter."""
    lower = name.lower()
    return name in IGNORED_NAMES or lower.startswith("manifest.") or \
        lower in ("thumbs.db", "desktop.ini")


def batch_children(batch: Path) -> list[Path]:
    """The records of a batch folder: its visible immediate children, in natural order."""
    return sorted(
        (p for p in batch.iterdir() if not p.name.startswith(".") and not _ignored(p.name)),
        key=lambda p: natural_key(p.name),
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _gigapixels(pixels: float) -> str:
    return f"{pixels / 1e9:.2f} gigapixels" if pixels >= 1e8 else f"{pixels / 1e6:.0f} megapixels"


def _check_pixels(width: float, height: float, limit: int, where: str) -> None:
    pixels = width * height
    if pixels > limit:
        raise InputRejected(
            f"{where} of {_gigapixels(pixels)} exceeds the limit of {_gigapixels(limit)}"
        )


def image_frames(path: Path, fmt: str, max_pixels: int) -> int:
    """Check every frame decodes completely and is within the pixel limit; return the count."""
    label = fmt.upper()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                frames = getattr(image, "n_frames", 1)
                for index in range(frames):
                    image.seek(index)
                    where = "image" if frames == 1 else f"page {index + 1}"
                    _check_pixels(image.width, image.height, max_pixels, where)
                    image.load()
                return frames
    except InputRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise InputRejected(f"{label} image refused as a decompression bomb: {exc}") from exc
    except ValueError as exc:
        if "Decompressed" in str(exc):
            raise InputRejected(
                f"{label} image with an oversized compressed chunk (decompression bomb)"
            ) from exc
        raise InputRejected(f"damaged {label} image: {exc}") from exc
    except Image.UnidentifiedImageError as exc:
        raise InputRejected(f"damaged {label} image: its header cannot be read") from exc
    except (OSError, SyntaxError, EOFError, TypeError, KeyError, IndexError, struct.error,
            ZeroDivisionError) as exc:
        # Pillow's decoders meet a damaged header with any of these (hypothesis found
        # TypeError "Missing dimensions" and KeyError on TIFF tags): all mean a damaged file.
        detail = str(exc) or type(exc).__name__
        kind = "truncated" if "truncated" in detail or "decoder error" in detail else "damaged"
        raise InputRejected(f"{kind} {label} image ({detail})") from exc


def _page_image_dpi(page: pikepdf.Page) -> float | None:
    """Resolution of the largest image on a page, assuming it covers the page (scans do)."""
    box = page.mediabox
    width_in = abs(float(box[2]) - float(box[0])) / 72
    height_in = abs(float(box[3]) - float(box[1])) / 72
    best: float | None = None
    for image in page.get_images().values():
        w, h = int(image.get("/Width", 0)), int(image.get("/Height", 0))
        if w and h and width_in and height_in:
            dpi = max(min(w / width_in, h / height_in), min(h / width_in, w / height_in))
            best = max(best or 0.0, dpi)
    return best


def pdf_pages(path: Path, sha: str, first_number: int, max_pixels: int) -> list[PageRef]:
    """Open a PDF, refuse what cannot become an archival copy, and list its pages."""
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError as exc:
        raise InputRejected("encrypted PDF: it needs a password to open") from exc
    except pikepdf.PdfError as exc:
        detail = str(exc).replace(str(path), "").strip(": ")
        raise InputRejected(f"damaged PDF that cannot be repaired ({detail})") from exc
    with pdf:
        root = pdf.Root
        form = root.get("/AcroForm")
        xfa = isinstance(form, pikepdf.Dictionary) and "/XFA" in form  # else no form at all
        if "/NeedsRendering" in root or xfa:
            raise InputRejected(
                "dynamic XFA form: its pages are drawn by a form engine, not stored; "
                "print it to PDF or scan it"
            )
        try:
            count = len(pdf.pages)
        except pikepdf.PdfError as exc:
            raise InputRejected(f"damaged PDF: its page tree is broken ({exc})") from exc
        if count == 0:
            raise InputRejected("PDF without pages")
        refs = []
        low, high = PDF_RASTER_DPI_RANGE
        for index, page in enumerate(pdf.pages):
            number = first_number + index
            with reading(f"page {number}"):
                dpi = min(max(_page_image_dpi(page) or low, low), high)
                box = page.mediabox
                w_in = abs(float(box[2]) - float(box[0])) / 72
                h_in = abs(float(box[3]) - float(box[1])) / 72
            _check_pixels(w_in * dpi, h_in * dpi, max_pixels, f"page {number}")
            refs.append(PageRef(path, "pdf", index, number, sha, dpi))
        return refs


def _files_of(source: Path) -> list[Path]:
    if source.is_symlink():
        raise InputRejected("symbolic link: only real files and folders are taken")
    if source.is_dir():
        files = [p for p in batch_children(source) if p.is_file() or p.is_symlink()]
        if not files:
            raise InputRejected("empty folder: no page images in it")
        return files
    if source.is_file():
        return [source]
    raise InputRejected("not a regular file or folder")


def printable_name(name: str) -> str:
    """A file name as text that can be written anywhere: bytes that are not UTF-8 (a name
    written under another code page) shown as ``\\xff`` escapes instead of failing the batch."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _check_name(name: str) -> None:
    if printable_name(name) != name:
        raise InputRejected(f"the file name {printable_name(name)} is not valid UTF-8 (saved "
                            "under another code page): rename it and queue it again")


def open_document(source: Path, max_pixels: int, max_pages: int = 2000) -> SourceDocument:
    """Check every file of a record and list its pages in order; raise InputRejected if bad.

    ``max_pages`` bounds the work one document may ask for: a PDF of thousands of blank pages
    costs an afternoon of OCR, so it is refused with the limit named instead.
    """
    _check_name(source.name)
    files = _files_of(source)
    base = source if source.is_dir() else source.parent
    pages: list[PageRef] = []
    checksums: dict[str, str] = {}
    size = 0
    for path in files:
        name = path.relative_to(base).as_posix()
        _check_name(name)
        prefix = f"{name}: " if source.is_dir() else ""
        if path.is_symlink():
            raise InputRejected(f"{prefix}symbolic link: only real files are taken")
        try:
            pages.extend(_pages_of_file(path, len(pages) + 1, max_pixels, checksums, name))
        except InputRejected as exc:
            raise InputRejected(prefix + exc.reason) from exc
        size += path.stat().st_size
        if len(pages) > max_pages:
            raise InputRejected(f"{prefix}more than {max_pages:,} pages in one document (setting "
                                "ocr.max_pages): split it, or raise the limit for it")
    return SourceDocument(source, tuple(files), tuple(pages), checksums, size)


def _pages_of_file(
    path: Path, first_number: int, max_pixels: int, checksums: dict[str, str], name: str
) -> Iterable[PageRef]:
    fmt = sniff(path)
    if fmt is None:
        raise InputRejected(describe_unknown(path))
    sha = sha256_file(path)
    checksums[name] = sha
    if fmt == "pdf":
        with reading("the PDF"):  # whatever its structure throws at the reader
            return pdf_pages(path, sha, first_number, max_pixels)
    if fmt not in IMAGE_FORMATS:
        raise InputRejected(f"unsupported format {fmt}")
    with reading("the image"):
        frames = image_frames(path, fmt, max_pixels)
    return [PageRef(path, "image", i, first_number + i, sha) for i in range(frames)]
