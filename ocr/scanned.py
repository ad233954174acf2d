"""Taking a scanner's page image out of an image-only PDF instead of drawing the page.

Office scanners write one image per page, drawn over the whole page and nothing else. Such a
page's pixels are the image itself: decoding it (CCITT G4, JPEG, JBIG2, Flate) gives exactly
what the scanner saw, at a fraction of what drawing the page costs, and keeps a bilevel scan
bilevel for Tesseract. Anything else on the page (text, vector drawing, a second image, a
mask, a crop, a colour space that needs conversion) means the page must be drawn as a viewer
shows it: :func:`scanned_image` then answers ``None`` and the caller draws it with Poppler.

Only what decides the OCR raster is read here; the archival copy still carries the PDF page
itself (``ocr.assemble``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pikepdf
from pikepdf import Matrix, Name, Operator, PdfImage
from PIL import Image

from ocr.inputs import PDF_RASTER_DPI_RANGE, PageRef

# What a scanner's page holds: save and restore the state, place the image, draw it.
_ALLOWED_OPERATORS = {Operator(op) for op in ("q", "Q", "cm", "Do")}
_DECODERS = {"/CCITTFaxDecode": "ccitt", "/DCTDecode": "jpeg", "/JBIG2Decode": "jbig2",
             "/FlateDecode": "flate", "/JPXDecode": "jpeg2000"}
_COLOUR_SPACES = {"/DeviceGray", "/DeviceRGB", "/CalGray", "/CalRGB"}
_PLACEMENT_TOLERANCE_PT = 1.0  # the image must cover the page to within this
_SQUARE_TOLERANCE = 0.01  # x and y resolutions may differ this much (rounding of sizes)
_TURNS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
          270: Image.Transpose.ROTATE_90}  # /Rotate is clockwise, PIL's names anticlockwise


@dataclass(frozen=True)
class ScannedImage:
    """The page's pixels as the scanner stored them, turned as the page is shown."""

    image: Image.Image
    dpi: float
    encoding: str  # "pdf/ccitt", "pdf/jpeg", "pdf/jbig2", "pdf/flate" or "pdf/jpeg2000"


def scanned_image(ref: PageRef) -> ScannedImage | None:
    """The one image of a scanned PDF page, or ``None`` if the page must be drawn.

    Never raises for the document's sake: whatever cannot be taken out as it is (a damaged
    stream, a decoder that is not installed) is left to drawing, which refuses a damaged page
    with Poppler's reason as it always has.
    """
    try:
        with pikepdf.open(ref.path) as pdf:
            page = pdf.pages[ref.index]
            found = _single_image(page)
            if found is None:
                return None
            xobject, placement = found
            dpi = _resolution(xobject, placement) if _covers(page, placement) else None
            encoding = _encoding(xobject)
            if dpi is None or encoding is None:
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = PdfImage(xobject).as_pil_image()
                image.load()
            turn = int(page.obj.get("/Rotate", 0)) % 360
    except Exception:  # any doubt about the page: draw it instead
        return None
    if image.mode not in ("1", "L", "RGB", "P"):
        return None  # CMYK and the like: drawing converts colour as a viewer would
    if turn in _TURNS:
        image = image.transpose(_TURNS[turn])
    return ScannedImage(image, dpi, f"pdf/{encoding}")


def _single_image(page: pikepdf.Page) -> tuple[pikepdf.Stream, Matrix] | None:
    """The page's only drawn image and the matrix it is drawn with, if that is all it draws."""
    if "/UserUnit" in page.obj or not _boxes_agree(page):
        return None
    xobjects = page.resources.get("/XObject", pikepdf.Dictionary())
    stack, ctm = [], Matrix()
    drawn: tuple[pikepdf.Stream, Matrix] | None = None
    for operands, operator in pikepdf.parse_content_stream(page):
        if operator not in _ALLOWED_OPERATORS:
            return None
        if operator == Operator("q"):
            stack.append(ctm)
        elif operator == Operator("Q"):
            if not stack:
                return None
            ctm = stack.pop()
        elif operator == Operator("cm"):
            ctm = Matrix(*(float(v) for v in operands)) @ ctm
        else:
            target = xobjects.get(operands[0]) if operands else None
            if drawn is not None or not _plain_image(target):
                return None
            drawn = (target, ctm)
    return drawn


def _boxes_agree(page: pikepdf.Page) -> bool:
    """A crop box other than the media box changes what a viewer shows: draw such pages."""
    crop = page.obj.get("/CropBox")
    return crop is None or [float(v) for v in crop] == [float(v) for v in page.mediabox]


def _covers(page: pikepdf.Page, placement: Matrix) -> bool:
    """Whether the image is drawn over exactly the whole page (scanners draw nothing else)."""
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    drawn = (placement.e, placement.f, placement.e + placement.a, placement.f + placement.d)
    return all(abs(a - b) <= _PLACEMENT_TOLERANCE_PT
               for a, b in zip(drawn, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                               strict=True))


def _plain_image(xobject: object) -> bool:
    """An opaque image in grey or RGB, without masks or a changed decoding."""
    if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != Name.Image:
        return False
    if any(key in xobject for key in ("/SMask", "/Mask", "/Decode", "/Alternates")):
        return False
    if xobject.get("/ImageMask", False):
        return False
    return _colour_space(xobject.get("/ColorSpace"), xobject.get("/Filter"))


def _colour_space(space: object, filters: object) -> bool:
    if space is None:  # only JPX carries its colour space in its own data
        return filters == Name.JPXDecode
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == Name.ICCBased:
        return int(space[1].get("/N", 0)) in (1, 3)
    if isinstance(space, pikepdf.Array) and len(space) == 2:
        return str(space[0]) in ("/CalGray", "/CalRGB")
    return str(space) in _COLOUR_SPACES


def _encoding(xobject: pikepdf.Stream) -> str | None:
    """The one compression the image is stored with, if it is one we can decode as stored."""
    filters = xobject.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        if len(filters) != 1:
            return None
        filters = filters[0]
    if filters is None:
        return "raw"
    return _DECODERS.get(str(filters))


def _resolution(xobject: pikepdf.Stream, placement: Matrix) -> float | None:
    """The image's resolution on the page, if it covers the page upright at one resolution
    within the range PDF pages are recognised at (others are drawn at a resolution in it)."""
    page_w, page_h = placement.a, placement.d
    if abs(placement.b) > 1e-6 or abs(placement.c) > 1e-6 or page_w <= 0 or page_h <= 0:
        return None
    x = int(xobject.Width) * 72 / page_w
    y = int(xobject.Height) * 72 / page_h
    if abs(x - y) > _SQUARE_TOLERANCE * max(x, y):
        return None
    low, high = PDF_RASTER_DPI_RANGE
    dpi = (x + y) / 2
    return dpi if low * (1 - _SQUARE_TOLERANCE) <= dpi <= high * (1 + _SQUARE_TOLERANCE) else None
