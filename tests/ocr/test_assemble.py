"""The archival PDF: valid PDF/A-2b, masters not re-encoded, text where the words are."""

from __future__ import annotations

import hashlib
from pathlib import Path

import img2pdf
import pikepdf
import pikepdf.pdfa
import pytest

from ocr.assemble import DocumentInfo
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests.conftest import Scans, cer, pdftotext


def _convert(inputs: list[Path], out: Path, cache: Path, languages: str = "eng"):
    return ocr_to_pdfa(inputs, out, OcrOptions(languages=languages), cache,
                       DocumentInfo(title="Quyết định số 12", language="vi"))


def _image_streams(pdf_path: Path) -> list[tuple[bytes, dict[str, object]]]:
    """Raw bytes and dictionary of every image the pages draw (inside forms too)."""
    with pikepdf.open(pdf_path) as pdf:
        return [(image.read_raw_bytes(), {k: image.get(k) for k in image.keys()})  # noqa: SIM118
                for page in pdf.pages for image in page.get_images().values()]


def test_pdfa_2b_with_diacritics_in_text_layer(scans: Scans, tmp_path: Path) -> None:
    path, text = scans.page("vie", seed=11, rotation=90, skew=1.5)
    out = tmp_path / "out.pdf"
    result = _convert([path], out, tmp_path / "cache", "vie")
    assert pikepdf.pdfa.validate_written(out, "2b").passed
    assert cer(text, pdftotext(out)) < 0.03
    assert result.pages[0].rotation == 90
    with pikepdf.open(out) as pdf:
        width, height = (float(v) for v in pdf.pages[0].mediabox[2:])
        assert (round(width), round(height)) == (595, 842)  # upright A4, not sideways
        assert str(pdf.open_metadata()["dc:title"]) == "Quyết định số 12"


def test_jpeg_is_passed_through_byte_identical(scans: Scans, tmp_path: Path) -> None:
    path, _ = scans.page("eng", seed=12, encoding="jpeg")
    out = tmp_path / "out.pdf"
    _convert([path], out, tmp_path / "cache")
    [(raw, entries)] = _image_streams(out)
    assert "/DCTDecode" in str(entries["/Filter"])
    assert hashlib.sha256(raw).digest() == hashlib.sha256(path.read_bytes()).digest()


def test_bilevel_stays_bilevel(scans: Scans, tmp_path: Path) -> None:
    path, _ = scans.page("deu", seed=13, bilevel=True, encoding="tiff-g4")
    out = tmp_path / "out.pdf"
    _convert([path], out, tmp_path / "cache", "deu")
    [(_, entries)] = _image_streams(out)
    assert entries["/BitsPerComponent"] == 1
    assert "/CCITTFaxDecode" in str(entries["/Filter"])
    assert out.stat().st_size < path.stat().st_size * 1.5  # no silent growth


def test_pdf_input_keeps_its_page_and_gains_text(scans: Scans, tmp_path: Path) -> None:
    path, text = scans.page("eng", seed=14, rotation=180, encoding="jpeg")
    image_pdf = tmp_path / "scan.pdf"
    image_pdf.write_bytes(img2pdf.convert(str(path)))
    out = tmp_path / "out.pdf"
    result = _convert([image_pdf], out, tmp_path / "cache")
    assert result.pages[0].rotation == 180
    assert cer(text, pdftotext(out)) < 0.03
    [(raw, _)] = _image_streams(out)
    assert raw == path.read_bytes()  # the PDF's own image, untouched
    assert pikepdf.pdfa.validate_written(out, "2b").passed


def test_text_layer_is_kept_unless_redo(scans: Scans, tmp_path: Path) -> None:
    path, _ = scans.page("eng", seed=15)
    searchable = tmp_path / "searchable.pdf"
    _convert([path], searchable, tmp_path / "cache")
    again = _convert([searchable], tmp_path / "again.pdf", tmp_path / "cache")
    assert not again.pages[0].ocr and "kept" in again.pages[0].notes[0]
    redone_pdf = tmp_path / "redone.pdf"
    redone = ocr_to_pdfa([searchable], redone_pdf, OcrOptions(languages="eng", redo_ocr=True),
                         tmp_path / "cache")
    assert redone.pages[0].ocr and redone.pages[0].rendered
    words = pdftotext(redone_pdf).split()
    first = words[0]
    assert words.count(first) == pdftotext(searchable).split().count(first)  # one layer, not two
    assert pikepdf.pdfa.validate_written(redone_pdf, "2b").passed


def test_16_bit_scan_with_alpha_becomes_valid_pdfa(scans: Scans, tmp_path: Path) -> None:
    from PIL import Image

    path, text = scans.page("eng", seed=16)
    grey = Image.open(path).convert("L")
    deep = tmp_path / "deep.png"
    grey.point(lambda v: v * 256).convert("I;16").save(deep)
    alpha = tmp_path / "alpha.png"
    rgba = grey.convert("RGBA")
    rgba.putalpha(255)
    rgba.save(alpha, dpi=(300, 300))
    out = tmp_path / "out.pdf"
    _convert([deep, alpha], out, tmp_path / "cache")
    assert pikepdf.pdfa.validate_written(out, "2b").passed
    assert cer(text + "\n" + text, pdftotext(out)) < 0.03


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["ocrmypdf-resources/cardinal.pdf",
                                  "vietnamese/vietsample2.png",
                                  "ocrmypdf-resources/ccitt.pdf",
                                  "vietnamese/vietsample2.tif"])
def test_corpus_documents_become_pdfa(corpus: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out.pdf"
    result = _convert([corpus / name], out, tmp_path / "cache",
                      "vie" if "viet" in name else "eng")
    assert pikepdf.pdfa.validate_written(out, "2b").passed
    if name.endswith("cardinal.pdf"):  # the same page in four orientations
        assert sorted(p.rotation for p in result.pages) == [0, 90, 180, 270]
    if name.endswith("vietsample2.tif"):  # its first page lies sideways
        assert result.pages[0].rotation in (90, 270)
    if "viet" in name:
        assert "ă" in pdftotext(out) or "ơ" in pdftotext(out)
    if name.endswith(".png"):  # palette pixels under a grey colour profile: kept grey
        assert not result.pages[0].rendered


def _born_digital_pdf(path: Path) -> None:
    """A typed letter as word processors write it: Helvetica, not embedded (PDF/A forbids)."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)))
    lines = ["Records management circular", "All paper files are to be digitised",
             "before the end of the year."]
    ops = "".join(f"BT /F1 20 Tf 72 {700 - 40 * i} Td ({line}) Tj ET\n"
                  for i, line in enumerate(lines))
    page.Contents = pdf.make_stream(ops.encode())
    pdf.save(path)


def test_born_digital_page_that_breaks_pdfa_is_rendered(tmp_path: Path) -> None:
    source = tmp_path / "typed.pdf"
    _born_digital_pdf(source)
    out = tmp_path / "out.pdf"
    result = _convert([source], out, tmp_path / "cache")
    page = result.pages[0]
    assert page.rendered and page.ocr and page.had_text
    assert "breaks PDF/A" in page.notes[-1]
    assert pikepdf.pdfa.validate_written(out, "2b").passed
    assert "digitised" in pdftotext(out)
    with pikepdf.open(out) as pdf:  # no unembedded font came along
        assert "/Helvetica" not in str(pdf.pages[0].obj.Resources)
