"""Taking a scanner's page image out of an image-only PDF instead of drawing the page.

Office scanners write one image per page, drawn over the whole page and nothing else. Such a
page's pixels are the image itself: decoding it (CCITT G4, JBIG2, JPEG) gives exactly what
the scanner saw, at a fraction of what drawing the page costs, and keeps a bilevel scan
bilevel for Tesseract. Anything a viewer would show differently from the bare image, or that
could cost more to decode than the page's checked size allows, means the page is drawn as a
viewer shows it, under the tools' time and memory limits: :func:`scanned_image` then
answers ``None``. That covers text, vector drawing, a second image, annotations, optional
content, masks, crops, decode arrays, colour a viewer would convert, parameters a decoder
could read otherwise than Poppler, a stream whose declared size is not its real size, a
damaged CCITT stream (libtiff would fill the rest black where Poppler leaves it white), and
the encodings that are not a scanner's (Flate and raw samples, JPEG 2000), whose decoding
here would be bounded by nothing but the file.

Only what decides the OCR raster is read here; the archival copy still carries the PDF page
itself (``ocr.assemble``).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import pikepdf
from pikepdf import Matrix, Name, Operator, PdfImage
from PIL import Image, ImageChops

from ocr.inputs import PDF_RASTER_DPI_RANGE, PageRef

# What a scanner's page holds: save and restore the state, place the image, draw it.
_ALLOWED_OPERATORS = {Operator(op) for op in ("q", "Q", "cm", "Do")}
_MAX_CONTENT_BYTES = 2048  # a scanner's content stream is one line; more is drawn
_PLACEMENT_TOLERANCE_PT = 1.0  # the image must cover the page to within this
_SQUARE_TOLERANCE_PX = 1.0  # x and y resolutions may differ by this much of a pixel
_COMPONENTS = {"/DeviceGray": 1, "/CalGray": 1, "/DeviceRGB": 3, "/CalRGB": 3}
_MODES = {1: "L", 3: "RGB"}
_ROWS_PER_STRIP, _STRIP_OFFSETS, _STRIP_BYTES = 278, 273, 279  # TIFF tags
_TURNS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
          270: Image.Transpose.ROTATE_90}  # /Rotate is clockwise, PIL's names anticlockwise


@dataclass(frozen=True)
class ScannedImage:
    """The page's pixels as the scanner stored them, turned as the page is shown."""

    image: Image.Image
    dpi: float
    encoding: str  # "pdf/ccitt", "pdf/jbig2" or "pdf/jpeg"


def scanned_image(ref: PageRef) -> ScannedImage | None:
    """The one image of a scanned PDF page, or ``None`` if the page must be drawn.

    Never raises for the document's sake: whatever cannot be taken out as it is (a damaged
    stream, a decoder that is not installed) is left to drawing, which refuses a damaged page
    with Poppler's reason as it always has.
    """
    try:
        with pikepdf.open(ref.path) as pdf:
            page = pdf.pages[ref.index]
            found = _single_image(pdf, page)
            if found is None:
                return None
            xobject, placement = found
            dpi = _resolution(xobject, placement) if _covers(page, placement) else None
            if dpi is None:
                return None
            decoded = _decoded(xobject)
            turn = int(page.obj.get("/Rotate", 0)) % 360
    except Exception:  # any doubt about the page: draw it instead
        return None
    if decoded is None:
        return None
    image, encoding = decoded
    if turn in _TURNS:
        image = image.transpose(_TURNS[turn])
    return ScannedImage(image, dpi, f"pdf/{encoding}")


def _single_image(pdf: pikepdf.Pdf, page: pikepdf.Page
                  ) -> tuple[pikepdf.Stream, Matrix] | None:
    """The page's only drawn image and the matrix it is drawn with, if that is all it draws."""
    if any(key in page.obj for key in ("/UserUnit", "/Annots")) or not _boxes_agree(page):
        return None
    content = _content(page)
    if content is None:
        return None
    xobjects = page.resources.get("/XObject", pikepdf.Dictionary())
    stack, ctm = [], Matrix()
    drawn: tuple[pikepdf.Stream, Matrix] | None = None
    for operands, operator in pikepdf.parse_content_stream(pdf.make_stream(content)):
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


def _content(page: pikepdf.Page) -> bytes | None:
    """The page's content, decoded to at most a few kilobytes (a scanner writes one line); a
    longer or otherwise encoded stream is not a scanner's and is drawn, unparsed here."""
    contents = page.obj.get("/Contents")
    streams = [contents] if isinstance(contents, pikepdf.Stream) else list(contents or [])
    data = b""
    for stream in streams:
        if not isinstance(stream, pikepdf.Stream):
            return None
        raw = stream.read_raw_bytes()
        filters = stream.get("/Filter")
        if filters is None:
            part = raw
        elif filters in (Name.FlateDecode, pikepdf.Array([Name.FlateDecode])) \
                and "/DecodeParms" not in stream:
            inflater = zlib.decompressobj()
            part = inflater.decompress(raw, _MAX_CONTENT_BYTES + 1)
        else:
            return None
        data += part + b"\n"
        if len(data) > _MAX_CONTENT_BYTES:
            return None
    return data


def _boxes_agree(page: pikepdf.Page) -> bool:
    """A crop box other than the media box changes what a viewer shows: draw such pages."""
    crop = page.obj.get("/CropBox")
    return crop is None or [float(v) for v in crop] == [float(v) for v in page.mediabox]


def _plain_image(xobject: object) -> bool:
    """An opaque image, always shown, without masks or a changed decoding."""
    if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != Name.Image:
        return False
    if any(key in xobject for key in ("/SMask", "/Mask", "/Decode", "/Alternates", "/OC",
                                      "/SMaskInData")):
        return False
    return not xobject.get("/ImageMask", False)


def _covers(page: pikepdf.Page, placement: Matrix) -> bool:
    """Whether the image is drawn over exactly the whole page (scanners draw nothing else)."""
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    drawn = (placement.e, placement.f, placement.e + placement.a, placement.f + placement.d)
    return all(abs(a - b) <= _PLACEMENT_TOLERANCE_PT
               for a, b in zip(drawn, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                               strict=True))


def _resolution(xobject: pikepdf.Stream, placement: Matrix) -> float | None:
    """The image's resolution on the page, if it covers the page upright at one resolution
    (to within a pixel) inside the range PDF pages are recognised at; others are drawn at a
    resolution in it, as the page's pixel limit was checked."""
    page_w, page_h = placement.a, placement.d
    if abs(placement.b) > 1e-6 or abs(placement.c) > 1e-6 or page_w <= 0 or page_h <= 0:
        return None
    width, height = int(xobject.Width), int(xobject.Height)
    dpi = width * 72 / page_w
    if abs(height - page_h * dpi / 72) > _SQUARE_TOLERANCE_PX:
        return None
    low, high = PDF_RASTER_DPI_RANGE
    return dpi if low - 1 <= dpi <= high else None


def _only_filter(xobject: pikepdf.Stream) -> tuple[str, pikepdf.Object | None] | None:
    """The image's one compression and its parameters (None if there are several)."""
    filters, params = xobject.get("/Filter"), xobject.get("/DecodeParms")
    if isinstance(filters, pikepdf.Array):
        if len(filters) != 1:
            return None
        filters = filters[0]
        params = params[0] if isinstance(params, pikepdf.Array) and len(params) else params
    return (str(filters), params) if filters is not None else None


def _components(xobject: pikepdf.Stream) -> int | None:
    """How many colour components the image's colour space declares (1 or 3), else None."""
    space = xobject.get("/ColorSpace")
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == Name.ICCBased:
        return int(space[1].get("/N", 0)) or None
    if isinstance(space, pikepdf.Array) and len(space) == 2:
        space = space[0]
    return _COMPONENTS.get(str(space))


def _decoded(xobject: pikepdf.Stream) -> tuple[Image.Image, str] | None:
    """The image decoded as stored, when its stream is a scanner's and says what it holds."""
    found = _only_filter(xobject)
    components = _components(xobject)
    if found is None or components not in _MODES:
        return None
    name, params = found
    size = (int(xobject.Width), int(xobject.Height))
    if name == "/DCTDecode" and params is None:
        return _jpeg(xobject, size, _MODES[components])
    if name == "/CCITTFaxDecode" and components == 1 and _g4_params_agree(params, size):
        decoded = _through_pikepdf(xobject, size, "ccitt")
        faithful = decoded and _g4_faithful(xobject.read_raw_bytes(), decoded[0])
        return decoded if faithful else None
    if name == "/JBIG2Decode" and components == 1 and _jbig2_page_is(xobject, params, size):
        return _through_pikepdf(xobject, size, "jbig2")
    return None


def _jpeg(xobject: pikepdf.Stream, size: tuple[int, int], mode: str
          ) -> tuple[Image.Image, str] | None:
    """A JPEG read from its own header first: its size and components must be the ones the
    PDF declares before a pixel is decoded (a viewer would otherwise show something else)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = Image.open(io.BytesIO(xobject.read_raw_bytes()), formats=["JPEG"])
        if image.size != size or image.mode != mode:
            return None
        image.load()
    return image, "jpeg"


def _g4_params_agree(params: object, size: tuple[int, int]) -> bool:
    """Group 4 parameters that mean what libtiff will read: the declared size, no byte
    alignment (which libtiff would not be told about)."""
    if not isinstance(params, pikepdf.Dictionary) or int(params.get("/K", 0)) >= 0:
        return False
    if int(params.get("/Columns", 1728)) != size[0] or \
            int(params.get("/Rows", size[1])) != size[1]:
        return False
    return not params.get("/EncodedByteAlign", False)


def _g4_faithful(raw: bytes, image: Image.Image) -> bool:
    """Whether *image* is what the Group 4 stream *raw* holds, every row of it.

    libtiff decodes a damaged or cut stream without an error it hands back: it fills the
    rest with black, where Poppler leaves the page white. Group 4 coding is canonical (the
    standard fixes each coding decision from the pixels), so the decoded page coded again
    gives the stream back, up to its end-of-block, exactly when nothing was lost.
    """
    wanted = raw.rstrip(b"\0")
    for candidate in (image, ImageChops.invert(image)):  # either polarity of the coding
        out = io.BytesIO()
        candidate.save(out, format="TIFF", compression="group4",
                       tiffinfo={_ROWS_PER_STRIP: candidate.height})  # one strip
        with Image.open(out) as coded:
            offset, count = coded.tag_v2[_STRIP_OFFSETS][0], coded.tag_v2[_STRIP_BYTES][0]
        again = out.getvalue()[offset:offset + count].rstrip(b"\0")
        if again == wanted or (again.startswith(wanted) and len(again) - len(wanted) <= 4):
            return True  # the same, or the same without the end-of-block
    return False


def _jbig2_page_is(xobject: pikepdf.Stream, params: object, size: tuple[int, int]) -> bool:
    """A JBIG2 page that stands alone (no shared symbol dictionaries, which only Poppler
    reads under the tools' limits) and whose page information is the declared size."""
    if params is not None and "/JBIG2Globals" in params:  # type: ignore[operator]
        return False
    head = xobject.read_raw_bytes()[:30]
    if len(head) < 30:
        return False
    _number, flags, referred, _page, length = struct.unpack(">IBBBI", head[:11])
    if flags & 0x3F != 48 or flags & 0x40 or referred != 0 or length < 19:
        return False  # not a page information segment in the short form a page's stream has
    width, height = struct.unpack(">II", head[11:19])
    return (width, height) == size


def _through_pikepdf(xobject: pikepdf.Stream, size: tuple[int, int], encoding: str
                     ) -> tuple[Image.Image, str] | None:
    """CCITT and JBIG2 decoded by pikepdf (a TIFF wrapper for libtiff; jbig2dec)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = PdfImage(xobject).as_pil_image()
        image.load()
    if image.size != size or image.mode != "1":
        return None
    return image, encoding
