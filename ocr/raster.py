"""Getting the pixels OCR reads: image frames as they are, a scanned PDF page's own image
taken out as stored, any other PDF page drawn through pdftoppm.

The raster is for recognition only. The archival copy keeps the original image or PDF page
itself, so nothing done here (greyscale, resampling to square pixels) touches the master.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass

import pdf2image
from pdf2image.exceptions import PDFPageCountError, PDFPopplerTimeoutError, PDFSyntaxError
from PIL import Image

from ocr import dpi as dpi_rules
from ocr.errors import InputRejected, OcrFailed
from ocr.inputs import PageRef
from ocr.limits import current
from ocr.scanned import scanned_image

# A page with at least this much extractable text already has a real text layer.
MIN_TEXT_LAYER_CHARS = 20


@dataclass
class PageRaster:
    image: Image.Image  # mode "1" (bilevel) or "L", square pixels
    dpi: float
    resolution: dpi_rules.Resolution  # what the source said, and how we decided
    encoding: str  # what the source page is: "jpeg", "png", "tiff/group4", "pdf", ...


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def is_deep(image: Image.Image) -> bool:
    """16-bit or float pixels, which neither Tesseract nor PDF/A-2b images want."""
    return image.mode.startswith("I;16") or image.mode in ("I", "F")


def flattened(image: Image.Image, mode: str) -> Image.Image:
    """Transparency composited onto white paper (it is not part of a scan), as *mode*."""
    rgba = image.convert("RGBA")
    paper = Image.new("RGBA", rgba.size, "white")
    paper.alpha_composite(rgba)
    return paper.convert(mode)


def eight_bit_grey(image: Image.Image) -> Image.Image:
    """Deep pixels scaled by their real range down to 8-bit grey."""
    lo, hi = image.getextrema()
    scale = 255.0 / (hi - lo) if hi > lo else 1.0
    return image.point(lambda v: (v - lo) * scale).convert("L")


def _ocr_mode(image: Image.Image) -> Image.Image:
    """Greyscale (or bilevel as it is) for Tesseract: colour carries nothing it uses."""
    if image.mode in ("1", "L"):
        return image
    if is_deep(image):
        return eight_bit_grey(image)
    if has_alpha(image):
        return flattened(image, "L")
    return image.convert("L")


def image_raster(ref: PageRef, default_dpi: int) -> PageRaster:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(ref.path) as source:
            source.seek(ref.index)
            resolution = dpi_rules.decide(source.info.get("dpi"), *source.size, default_dpi)
            compression = source.info.get("compression")
            fmt = (source.format or "image").lower()
            encoding = f"{fmt}/{compression}" if compression and fmt == "tiff" else fmt
            image = _ocr_mode(source)
            image.load()
    if resolution.x != resolution.y:
        # Tesseract takes one resolution: stretch the coarser axis to the finer one.
        sx, sy = resolution.square / resolution.x, resolution.square / resolution.y
        image = image.convert("L").resize((round(image.width * sx), round(image.height * sy)),
                                          Image.Resampling.BICUBIC)
    return PageRaster(image, resolution.square, resolution, encoding)


def pdf_text(ref: PageRef, timeout: float) -> str:
    """The page's existing text layer, as pdftotext reads it (empty when it has none)."""
    page = str(ref.index + 1)
    try:
        done = subprocess.run(
            [current().pdftotext, "-q", "-enc", "UTF-8", "-f", page, "-l", page, str(ref.path),
             "-"],
            capture_output=True, timeout=timeout, check=False,
        )
    except FileNotFoundError as exc:
        raise OcrFailed("pdftotext (poppler-utils) is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"pdftotext took longer than {timeout:.0f} s") from exc
    return done.stdout.decode("utf-8", "replace")


def _poppler_says(message: str) -> str:
    """Poppler's complaints, each once, on one line (it repeats itself and adds preambles)."""
    lines = (line.strip().removeprefix("Syntax Error: ") for line in message.splitlines())
    said = dict.fromkeys(line for line in lines
                         if line and not line.startswith("Unable to get page count"))
    return "; ".join(said)[:300] or "Poppler gave no reason"


def scan_raster(ref: PageRef) -> PageRaster | None:
    """The page's scanned image as stored, when the page is nothing but that image.

    Decoding the image costs a fraction of drawing the page, and a page that is one image
    has no text layer to keep, so neither pdftotext nor pdftoppm need run for it.
    """
    scanned = scanned_image(ref)
    if scanned is None:
        return None
    resolution = dpi_rules.Resolution(scanned.dpi, scanned.dpi, "pdf-image")
    return PageRaster(_ocr_mode(scanned.image), scanned.dpi, resolution, scanned.encoding)


def pdf_raster(ref: PageRef, timeout: float) -> PageRaster:
    try:
        images = pdf2image.convert_from_path(
            ref.path, dpi=ref.raster_dpi, first_page=ref.index + 1, last_page=ref.index + 1,
            grayscale=True, timeout=timeout, poppler_path=current().poppler_dir,
        )
    except pdf2image.exceptions.PDFInfoNotInstalledError as exc:
        raise OcrFailed("pdftoppm (poppler-utils) is not installed") from exc
    except PDFPopplerTimeoutError as exc:
        raise OcrFailed(f"pdftoppm took longer than {timeout:.0f} s on the page") from exc
    except (PDFPageCountError, PDFSyntaxError) as exc:
        raise InputRejected(f"page {ref.number} of the PDF cannot be drawn "
                            f"({_poppler_says(str(exc))})") from exc
    if not images:
        # Poppler reports a damaged page as a syntax error (above); no image without one is the
        # tool failing (crashed, killed, out of memory): not the document's fault, a rerun may do.
        raise OcrFailed(f"pdftoppm drew nothing for page {ref.number} (it failed or ran out "
                        "of memory)")
    resolution = dpi_rules.Resolution(ref.raster_dpi, ref.raster_dpi, "pdf-image")
    return PageRaster(_ocr_mode(images[0]), ref.raster_dpi, resolution, "pdf")
