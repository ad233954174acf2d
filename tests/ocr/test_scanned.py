"""Scanned PDF pages: the scanner's image taken out as stored, anything else drawn."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pikepdf
import pytest
from pikepdf import PdfImage
from PIL import Image, ImageChops

import ocr.page
from ocr.inputs import PageRef, open_document
from ocr.options import OcrOptions
from ocr.page import process_page
from ocr.scanned import scanned_image
from records.samples import PageStyle, make_letter, render_page, scanner_pdf
from tests.conftest import Scans, cer

LIMIT = 400_000_000


@pytest.fixture(scope="module")
def page_image() -> Image.Image:
    """One bilevel letter page at 300 dpi, as an archive scanner sees it."""
    text = make_letter("deu", 3, pages=1).pages[0]
    return render_page(text, PageStyle(bilevel=True), seed=3).convert("1")


def _ref(pdf: Path) -> PageRef:
    return open_document(pdf, LIMIT).pages[0]


def _same_pixels(a: Image.Image, b: Image.Image) -> bool:
    difference = ImageChops.difference(a.convert("L"), b.convert("L"))
    return a.size == b.size and difference.getbbox() is None


@pytest.mark.parametrize("encoding", ["g4", "jbig2"])
def test_bilevel_scans_come_out_pixel_for_pixel(page_image: Image.Image, tmp_path: Path,
                                               encoding: str) -> None:
    if encoding == "jbig2" and shutil.which("jbig2dec") is None:
        pytest.skip("jbig2dec is not installed (make installs it): JBIG2 pages are drawn")
    pdf = scanner_pdf([page_image], tmp_path / "scan.pdf", 300, encoding)
    scanned = scanned_image(_ref(pdf))
    assert scanned is not None
    assert scanned.encoding == {"g4": "pdf/ccitt", "jbig2": "pdf/jbig2"}[encoding]
    assert scanned.image.mode == "1" and scanned.dpi == pytest.approx(300)
    assert _same_pixels(scanned.image, page_image)


def test_jpeg_scans_come_out_as_stored(page_image: Image.Image, tmp_path: Path) -> None:
    pdf = scanner_pdf([page_image.convert("L")], tmp_path / "scan.pdf", 300, "jpeg")
    scanned = scanned_image(_ref(pdf))
    assert scanned is not None and scanned.encoding == "pdf/jpeg"
    with pikepdf.open(pdf) as opened:
        stored = next(iter(opened.pages[0].get_images().values())).read_raw_bytes()
    (tmp_path / "stored.jpg").write_bytes(stored)
    assert _same_pixels(scanned.image, Image.open(tmp_path / "stored.jpg"))


def test_a_turned_page_comes_out_turned_as_shown(page_image: Image.Image, tmp_path: Path) -> None:
    pdf = scanner_pdf([page_image], tmp_path / "scan.pdf", 300, "g4")
    with pikepdf.open(pdf, allow_overwriting_input=True) as opened:
        opened.pages[0].obj.Rotate = 90  # shown turned a quarter clockwise
        opened.save(pdf)
    scanned = scanned_image(_ref(pdf))
    assert scanned is not None
    assert _same_pixels(scanned.image, page_image.transpose(Image.Transpose.ROTATE_270))


def _changed(pdf: Path, change) -> Path:
    with pikepdf.open(pdf, allow_overwriting_input=True) as opened:
        change(opened, opened.pages[0])
        opened.save(pdf)
    return pdf


def _content(ops: bytes):
    def change(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        page.obj.Contents = pdf.make_stream(ops)
    return change


def _image(pdf: pikepdf.Pdf, page: pikepdf.Page) -> pikepdf.Stream:
    return next(iter(page.get_images().values()))


def _with_text(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    page.obj.Resources.Font = pikepdf.Dictionary(F1=font)
    page.contents_add(pdf.make_stream(b"BT /F1 12 Tf 72 72 Td (Az. 12-345) Tj ET"))


def _annotated(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """A black box drawn over the text as an annotation: a viewer shows it, the image not."""
    box = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[50, 600, 500, 800],
        IC=[0, 0, 0], C=[0, 0, 0]))
    page.obj.Annots = pikepdf.Array([box])


def _hidden_layer(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """The image in an optional-content group that is off: a viewer shows a blank page."""
    group = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name="scan"))
    pdf.Root.OCProperties = pikepdf.Dictionary(
        OCGs=[group], D=pikepdf.Dictionary(OFF=[group]))
    _image(pdf, page).OC = group


def _long_content(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """A few kilobytes that inflate to hundreds of thousands of operators before the image."""
    ops = b"q\n" * 300_000 + b"595.2 0 0 841.92 0 0 cm /Im0 Do\n"
    page.obj.Contents = pdf.make_stream(zlib.compress(ops, 9), Filter=pikepdf.Name.FlateDecode)


def _flate(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """Raw samples behind Flate: not a scanner's encoding, and decoding it here would be
    bounded by nothing but the file (a small file can inflate to gigabytes)."""
    image = _image(pdf, page)
    pixels = PdfImage(image).as_pil_image().convert("L")
    image.write(zlib.compress(pixels.tobytes()), filter=pikepdf.Name.FlateDecode)
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8


def _g4_cut(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    image = _image(pdf, page)
    raw = image.read_raw_bytes()
    image.write(raw[: len(raw) // 2], filter=image.Filter, decode_parms=image.DecodeParms)


def _g4_garbled(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """Bit rot in the middle; the stream still ends as it should."""
    image = _image(pdf, page)
    raw = bytearray(image.read_raw_bytes())
    middle = len(raw) // 3
    raw[middle:middle + 200] = bytes(b ^ 0x5A for b in raw[middle:middle + 200])
    image.write(bytes(raw), filter=image.Filter, decode_parms=image.DecodeParms)


def _g4_parameters(**changes: object):
    def change(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        params = _image(pdf, page).DecodeParms
        params = params[0] if isinstance(params, pikepdf.Array) else params
        for key, value in changes.items():
            if value is None:
                del params[f"/{key}"]
            else:
                params[f"/{key}"] = value
    return change


def _masked(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    image = _image(pdf, page)
    image.SMask = pdf.make_stream(zlib.compress(b"\xff" * 16), Type=pikepdf.Name.XObject,
                                  Subtype=pikepdf.Name.Image, Width=4, Height=4,
                                  ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8,
                                  Filter=pikepdf.Name.FlateDecode)


def _cropped(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    page.obj.CropBox = pikepdf.Array([0, 0, 300, 400])


@pytest.mark.parametrize("change", [
    _with_text,  # an earlier OCR's text: kept or redone, so the page is drawn
    _content(b"q 595.2 0 0 841.92 0 0 cm /Im0 Do Q q 595.2 0 0 841.92 0 0 cm /Im0 Do Q"),
    _content(b"q 297.6 0 0 420.96 0 0 cm /Im0 Do Q"),  # a quarter of the page
    _content(b"q 0 841.92 -595.2 0 595.2 0 cm /Im0 Do Q"),  # turned by its matrix
    _content(b"q 0 0 1 rg 0 0 100 100 re f Q q 595.2 0 0 841.92 0 0 cm /Im0 Do Q"),  # drawing
    _masked, _cropped, _annotated, _hidden_layer, _long_content, _flate, _g4_cut, _g4_garbled,
    _g4_parameters(Columns=None), _g4_parameters(K=0), _g4_parameters(Rows=1000),
], ids=["text", "drawn-twice", "quarter", "turned-by-matrix", "vector", "masked", "cropped",
        "annotated", "hidden-layer", "long-content", "flate", "g4-cut", "g4-garbled",
        "g4-columns-default", "g4-as-g3", "g4-rows"])
def test_anything_but_one_plain_scan_is_drawn(page_image: Image.Image, tmp_path: Path,
                                               change) -> None:
    pdf = scanner_pdf([page_image], tmp_path / "scan.pdf", 300, "g4")
    assert scanned_image(_ref(pdf)) is not None  # as written, the page is taken out...
    assert scanned_image(_ref(_changed(pdf, change))) is None  # ...changed, it is drawn


def test_an_image_that_cannot_be_decoded_is_left_to_drawing(page_image: Image.Image,
                                                            tmp_path: Path) -> None:
    """Drawing then refuses the page with Poppler's reason, as it always has."""
    pdf = scanner_pdf([page_image.convert("L")], tmp_path / "scan.pdf", 300, "jpeg")

    def damaged(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        image = _image(pdf, page)
        image.write(b"\xff\xd8 not a JPEG " * 20, filter=pikepdf.Name.DCTDecode)

    assert scanned_image(_ref(_changed(pdf, damaged))) is None


def test_a_g4_page_of_the_other_polarity_comes_out_as_shown(page_image: Image.Image,
                                                            tmp_path: Path) -> None:
    """BlackIs1 false (the PDF default) with the coding of the inverted page shows the page."""
    inverted = ImageChops.invert(page_image)
    pdf = scanner_pdf([inverted], tmp_path / "scan.pdf", 300, "g4")
    pdf = _changed(pdf, _g4_parameters(BlackIs1=False))
    scanned = scanned_image(_ref(pdf))
    assert scanned is not None and _same_pixels(scanned.image, page_image)


def _jpeg_page(image: Image.Image, tmp_path: Path, **declared: object) -> Path:
    pdf = scanner_pdf([image.convert("L")], tmp_path / "scan.pdf", 300, "jpeg")

    def declare(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        stream = _image(pdf, page)
        for key, value in declared.items():
            stream[f"/{key}"] = value
    return _changed(pdf, declare)


def test_a_jpeg_is_taken_only_as_the_pdf_declares_it(page_image: Image.Image,
                                                      tmp_path: Path) -> None:
    """A JPEG whose own header says another size or other colours is shown otherwise by a
    viewer (and a header far larger than declared would get past the page's pixel limit)."""
    assert scanned_image(_ref(_jpeg_page(page_image, tmp_path))) is not None
    for declared in ({"Width": 1240, "Height": 1754}, {"ColorSpace": pikepdf.Name.DeviceRGB},
                     {"DecodeParms": pikepdf.Dictionary(ColorTransform=0)}):
        assert scanned_image(_ref(_jpeg_page(page_image, tmp_path, **declared))) is None


def test_a_jbig2_page_is_taken_only_alone_and_of_its_declared_size(page_image: Image.Image,
                                                                     tmp_path: Path) -> None:
    if shutil.which("jbig2dec") is None:
        pytest.skip("jbig2dec is not installed (make installs it): JBIG2 pages are drawn")
    pdf = scanner_pdf([page_image], tmp_path / "scan.pdf", 300, "jbig2")

    def bigger_page(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        image = _image(pdf, page)
        raw = bytearray(image.read_raw_bytes())
        raw[11:19] = (20000).to_bytes(4, "big") * 2  # the page information's width, height
        image.write(bytes(raw), filter=pikepdf.Name.JBIG2Decode)

    def shared_symbols(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        image = _image(pdf, page)
        image.DecodeParms = pikepdf.Dictionary(JBIG2Globals=pdf.make_stream(b""))

    assert scanned_image(_ref(_changed(pdf, bigger_page))) is None
    pdf = scanner_pdf([page_image], tmp_path / "scan.pdf", 300, "jbig2")
    assert scanned_image(_ref(_changed(pdf, shared_symbols))) is None


def test_a_scan_of_two_resolutions_is_drawn(page_image: Image.Image, tmp_path: Path) -> None:
    """301.5 dpi down the page, 300 across: taken out at one of them, the page would be
    placed 1.5 pt off at each edge; drawn, it is exact."""
    taller = page_image.resize((page_image.width, page_image.height + 35))
    pdf = scanner_pdf([taller], tmp_path / "scan.pdf", 300, "g4")

    def a4(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        page.obj.MediaBox = pikepdf.Array([0, 0, 595.2, 841.92])
        page.obj.Contents = pdf.make_stream(b"q 595.2 0 0 841.92 0 0 cm /Im0 Do Q")

    assert scanned_image(_ref(_changed(pdf, a4))) is None


def test_a_coarse_scan_is_drawn_at_the_ocr_resolution(page_image: Image.Image,
                                                       tmp_path: Path) -> None:
    small = page_image.resize((page_image.width // 2, page_image.height // 2))
    pdf = scanner_pdf([small], tmp_path / "scan.pdf", 150, "g4")
    ref = _ref(pdf)
    assert scanned_image(ref) is None and ref.raster_dpi == 300


def test_a_scanned_pdf_is_recognised_without_drawing_it(
        scans: Scans, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_args: object) -> None:
        raise AssertionError("a scanned page was drawn or searched for text")

    monkeypatch.setattr(ocr.page, "pdf_raster", never)
    monkeypatch.setattr(ocr.page, "pdf_text", never)
    path, text = scans.page("deu", seed=6, bilevel=True, encoding="pdf-g4", skew=1.5)
    result = process_page(_ref(path), OcrOptions(languages="deu"), tmp_path)
    assert result.encoding == "pdf/ccitt" and result.dpi_source == "pdf-image"
    assert abs(result.skew - 1.5) < 0.2
    assert cer(text, result.text) < 0.03
