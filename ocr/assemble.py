"""Assembling the archival PDF/A-2b: each original page, turned upright, under its text layer.

The original content is never re-encoded. An image page is embedded as the scanner wrote it
(JPEG passed through, bilevel G4 kept bilevel, PNG kept lossless) through img2pdf; a PDF page
is carried over whole as a form XObject. Turning and levelling are done by the page's
transformation matrix, not by resampling pixels, so the archival copy holds the master
itself. The invisible text layer (``ocr.textlayer``) is laid over it in the upright frame
the page was recognised in.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import img2pdf
import pdf2image
import pikepdf
from PIL import Image, ImageCms

from ocr.errors import InputRejected, OcrFailed
from ocr.faults import detail, reading
from ocr.inputs import PageRef, SourceDocument
from ocr.page import PageResult
from ocr.raster import eight_bit_grey, flattened, has_alpha, is_deep
from ocr.textlayer import FONT_NAME, glyphless_font, text_layer
from ocr.xmp import DocumentInfo, write_info

_PASSTHROUGH = {"JPEG", "PNG", "TIFF", "JPEG2000"}


class NotPdfa(OcrFailed):
    """The pages as given cannot make a valid PDF/A-2b (e.g. a PDF page with unembedded fonts)."""


def _first_finding(error: Exception) -> str:
    """The first rule broken, in one line, from pikepdf's multi-line report."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip().startswith("[")]
    return lines[0] if lines else str(error).splitlines()[0]


def _profile_space(image: Image.Image) -> str | None:
    """Colour space of the embedded ICC profile ("GRAY", "RGB", "CMYK"), None without one."""
    icc = image.info.get("icc_profile")
    if not icc:
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (OSError, ImageCms.PyCMSError):
        return "unreadable"


def _passes_through(image: Image.Image, frames: int) -> bool:
    """Can the file be embedded as it is and still make valid PDF/A?

    Single-frame files in a plain mode pass, with an ICC profile only when it describes the
    pixels' own colour space (a grey profile on RGB or palette pixels breaks PDF/A).
    """
    if frames != 1 or image.format not in _PASSTHROUGH or has_alpha(image):
        return False
    space = _profile_space(image)
    matching = {"1": {"GRAY"}, "L": {"GRAY"}, "RGB": {"RGB"}, "P": set()}
    return image.mode in matching and (space is None or space in matching[image.mode])


def _image_bytes(ref: PageRef, *, normalise: bool = False) -> bytes:
    """The frame as img2pdf should embed it: the file itself whenever it can pass through."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(ref.path) as image:
            frames = getattr(image, "n_frames", 1)
            image.seek(ref.index)
            if not normalise and _passes_through(image, frames):
                return ref.path.read_bytes()
            return _normalised_frame(image)


def _normalised_frame(image: Image.Image) -> bytes:
    """One frame, stored losslessly in a form PDF/A accepts.

    Bilevel frames stay bilevel (G4); alpha is flattened on white (transparency is not part of
    a scan); CMYK and 16-bit become 8-bit RGB or grey, since PDF/A-2b with an sRGB intent
    allows no device CMYK. A grey or RGB colour profile is kept when the pixels are in its
    space (palette pixels under a grey profile become grey), otherwise dropped.
    """
    out = io.BytesIO()
    space = _profile_space(image)
    icc = image.info.get("icc_profile") if space in ("GRAY", "RGB") else None
    if image.mode == "1":
        image.save(out, format="TIFF", compression="group4")
        return out.getvalue()
    if has_alpha(image):
        image = flattened(image, "L" if space == "GRAY" else "RGB")
    elif is_deep(image):
        image = eight_bit_grey(image)
    elif space == "GRAY" and image.mode != "L":
        image = image.convert("L")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if icc and _space_of_mode(image.mode) != space:
        icc = None
    image.save(out, format="PNG", icc_profile=icc)
    return out.getvalue()


def _space_of_mode(mode: str) -> str:
    return "GRAY" if mode in ("1", "L", "LA") else "RGB"


def _rendered_bytes(ref: PageRef) -> bytes:
    """A PDF page drawn in colour at its raster resolution, as lossless PNG."""
    images = pdf2image.convert_from_path(ref.path, dpi=ref.raster_dpi, first_page=ref.index + 1,
                                         last_page=ref.index + 1)
    if not images:  # as in ocr.raster: no image and no complaint is the tool failing
        raise OcrFailed(f"pdftoppm drew nothing for page {ref.number} (it failed or ran out "
                        "of memory)")
    out = io.BytesIO()
    images[0].convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _image_xobject(target: pikepdf.Pdf, ref: PageRef, data: bytes) -> pikepdf.Object:
    layout = img2pdf.get_fixed_dpi_layout_fun((300, 300))  # size is ours to set, not img2pdf's
    try:
        converted = img2pdf.convert(data, layout_fun=layout, rotation=img2pdf.Rotation.ifvalid)
    except (OSError, MemoryError):
        raise  # the machine's (an errno) or the input's (none): ``reading`` tells them apart
    except Exception as exc:  # img2pdf's own errors are plain Exceptions: all about the image
        raise InputRejected(f"page {ref.number}: the image cannot be embedded "
                            f"({detail(exc)})") from exc
    with pikepdf.open(io.BytesIO(converted)) as single:
        image = next(iter(single.pages[0].get_images(recursive=False).values()))
        return target.copy_foreign(image)


def _source_form(
    target: pikepdf.Pdf, ref: PageRef, open_pdfs: dict[Path, pikepdf.Pdf]
) -> tuple[pikepdf.Object, pikepdf.Matrix, float, float]:
    """The original page as a form XObject, with the matrix that draws it upright at origin.

    Returns the form, the matrix mapping form space to the page as displayed (its /Rotate and
    MediaBox offset applied), and the displayed width and height in points.
    """
    if ref.path not in open_pdfs:
        open_pdfs[ref.path] = pikepdf.open(ref.path)
    page = open_pdfs[ref.path].pages[ref.index]
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    width, height = abs(x1 - x0), abs(y1 - y0)
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    form = target.copy_foreign(page.as_form_xobject())
    shown_w, shown_h = (height, width) if rotate in (90, 270) else (width, height)
    # /Rotate turns the page clockwise when shown: undo the box offset, turn, re-centre.
    matrix = (
        pikepdf.Matrix().translated(-(x0 + x1) / 2, -(y0 + y1) / 2)
        @ pikepdf.Matrix().rotated(-rotate)
        @ pikepdf.Matrix().translated(shown_w / 2, shown_h / 2)
    )
    return form, matrix, shown_w, shown_h


def _add_page(target: pikepdf.Pdf, ref: PageRef, result: PageResult,
              open_pdfs: dict[Path, pikepdf.Pdf], font: pikepdf.Object) -> None:
    resources = pikepdf.Dictionary()
    if ref.kind == "image" or result.rendered:
        if ref.kind == "pdf":
            data = _rendered_bytes(ref)
        else:  # a rendered image page is one re-encoded losslessly for PDF/A's sake
            data = _image_bytes(ref, normalise=result.rendered)
        image = _image_xobject(target, ref, data)
        src_w = float(image.Width) * 72 / result.dpi_x
        src_h = float(image.Height) * 72 / result.dpi_y
        placement = pikepdf.Matrix(src_w, 0, 0, src_h, 0, 0)  # unit square -> frame
        resources.XObject = pikepdf.Dictionary(Src=image)
    else:
        form, placement, src_w, src_h = _source_form(target, ref, open_pdfs)
        resources.XObject = pikepdf.Dictionary(Src=form)
    if result.ocr:
        out_w, out_h = result.size_pt
    else:  # an existing text page is carried over as it is shown
        out_w, out_h = src_w, src_h
    # Turn (clockwise by `rotation`) and level (undo `skew`) about the centre, as the raster
    # was turned and levelled for recognition: PDF angles are counter-clockwise.
    correction = (
        pikepdf.Matrix().translated(-src_w / 2, -src_h / 2)
        @ pikepdf.Matrix().rotated(-(result.rotation + result.skew))
        @ pikepdf.Matrix().translated(out_w / 2, out_h / 2)
    )
    matrix = placement @ correction
    ops = [b"q", " ".join(f"{v:.6f}" for v in matrix.shorthand).encode() + b" cm",
           b"/Src Do", b"Q"]
    alto = result.path / "page.xml"
    if result.ocr and alto.is_file():
        resources.Font = pikepdf.Dictionary({FONT_NAME: font})
        ops.append(text_layer(alto, result.dpi, out_h))
    page = pikepdf.Page(target.add_blank_page(page_size=(out_w, out_h)))
    page.obj.Resources = resources
    page.obj.Contents = target.make_stream(b"\n".join(ops))


def assemble(doc: SourceDocument, results: list[PageResult], out: Path,
             info: DocumentInfo, producer: str = "records") -> Path:
    """Write the searchable PDF/A-2b of a document and validate what was written.

    Raises NotPdfa when the pages as given break PDF/A: see ``pipeline.build_pdfa`` for the
    fallback that renders such PDF pages as images.
    """
    target = pikepdf.new()
    open_pdfs: dict[Path, pikepdf.Pdf] = {}
    try:
        font = glyphless_font(target)
        for ref, result in zip(doc.pages, results, strict=True):
            with reading(f"page {ref.number}"):
                _add_page(target, ref, result, open_pdfs, font)
        write_info(target, info, producer)
        try:
            # Streams copied from the source are decoded only now: a damaged one is the
            # document's fault, refused here rather than failing the run.
            with reading("a page of the document"):
                pikepdf.pdfa.save(target, out, "2b")
        except pikepdf.pdfa.PdfaError as exc:
            raise NotPdfa(_first_finding(exc)) from exc
    finally:
        for opened in open_pdfs.values():
            opened.close()
        target.close()
    return out
