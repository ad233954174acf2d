"""Documents are listed in reading order and bad files are refused with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from ocr.errors import InputRejected
from ocr.inputs import batch_children, natural_key, open_document

LIMIT = 400_000_000


def test_natural_order_puts_page_2_before_page_10(tmp_path: Path) -> None:
    names = ["page-10.png", "page-2.png", "page-1.png", "Page-3.png"]
    assert sorted(names, key=natural_key) == ["page-1.png", "page-2.png", "Page-3.png",
                                              "page-10.png"]
    folder = tmp_path / "record"
    folder.mkdir()
    for index, name in enumerate(names):
        Image.new("L", (40 + index, 40), 255).save(folder / name)
    doc = open_document(folder, LIMIT)
    assert [p.path.name for p in doc.pages] == ["page-1.png", "page-2.png", "Page-3.png",
                                                "page-10.png"]
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]


def test_batch_children_skip_manifest_and_hidden(tmp_path: Path) -> None:
    for name in ["manifest.csv", ".DS_Store", "b.png", "a.tif", "READY"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in batch_children(tmp_path)] == ["a.tif", "b.png"]


def test_multipage_tiff_lists_every_frame(tmp_path: Path) -> None:
    frames = [Image.new("1", (200, 300), 1) for _ in range(3)]
    path = tmp_path / "scan.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4")
    doc = open_document(path, LIMIT)
    assert [(p.kind, p.index) for p in doc.pages] == [("image", 0), ("image", 1), ("image", 2)]
    assert doc.checksums == {"scan.tif": doc.pages[0].file_sha256}


def _truncated_png(path: Path) -> None:
    Image.effect_noise((400, 400), 50).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _encrypted_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path, encryption=pikepdf.Encryption(owner="o", user="u"))


@pytest.mark.parametrize(("maker", "reason"), [
    (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    (lambda p: p.write_text("not a scan"), "not an image or PDF"),
    (_truncated_png, "truncated PNG image"),
    (_encrypted_pdf, "encrypted PDF"),
    (lambda p: p.write_bytes(b"%PDF-1.4\ngarbage"), "damaged PDF"),
])
def test_bad_files_are_refused_with_reasons(tmp_path: Path, maker, reason: str) -> None:
    path = tmp_path / "bad.png"
    maker(path)
    before = path.read_bytes()
    with pytest.raises(InputRejected) as caught:
        open_document(path, LIMIT)
    assert reason in caught.value.reason
    assert path.read_bytes() == before  # the original is never touched


def test_pixel_limit_refuses_huge_pages(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    Image.new("1", (3000, 3000), 1).save(path)
    with pytest.raises(InputRejected, match="exceeds the limit"):
        open_document(path, 1_000_000)


def test_folder_with_one_bad_page_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "record"
    folder.mkdir()
    Image.new("L", (50, 50), 255).save(folder / "page-1.png")
    (folder / "page-2.png").write_bytes(b"")
    with pytest.raises(InputRejected, match=r"^page-2.png: empty file"):
        open_document(folder, LIMIT)


CORPUS_REFUSED = {
    "broken.png": "damaged PNG image: its header cannot be read",
    "crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif": "truncated TIFF image",
    "decompression_bomb.gif": "image of 4.36 gigapixels exceeds the limit of 0.40 gigapixels",
    "png_decompression_dos.png": "PNG image with an oversized compressed chunk "
                                 "(decompression bomb)",
    "shortfile.bmp": "truncated BMP image",
    "ocrmypdf_hugemono.pdf": "page 1 of 1.23 gigapixels exceeds the limit",
    "ocrmypdf_invalid.pdf": "damaged PDF that cannot be repaired",
    "ocrmypdf_livecycle.pdf": "dynamic XFA form: ",
    "pypdf_libreoffice-writer-password.pdf": "encrypted PDF: it needs a password to open",
    "qpdf_c-r6-in.pdf": "encrypted PDF: it needs a password to open",
    "qpdf_15316.fuzz.pdf": "damaged PDF: it has no PDF header",
    "qpdf_bad-content.pdf": "damaged PDF: it has no PDF header",
    "qpdf_bad1.pdf": "damaged PDF: it has no PDF header",
}
"""The corpus's broken files refused before any page is drawn, with the README's words."""
CORPUS_OPENED = {"exif-dpi-zerodivision.jpg": 1, "hopper_bigtiff.tif": 1,
                 "ocrmypdf_no_contents.pdf": 1, "qpdf_append-xref-loop.pdf": 30,
                 "qpdf_bad-jpeg.pdf": 1, "qpdf_bad-xref.pdf": 1}
"""...and those that open as documents (pages): a broken EXIF, a BigTIFF, PDFs qpdf repairs."""


@pytest.mark.corpus
def test_corpus_broken_files_each_get_a_reason(corpus: Path, tmp_path: Path) -> None:
    """Every broken file of the corpus opens as a document or is refused with its reason:
    exactly the 13 refusals and 6 documents the README promises."""
    refused, opened = {}, {}
    for path in sorted([*corpus.glob("broken-pdf/*"), *corpus.glob("broken-image/*")]):
        copy = tmp_path / path.name
        shutil.copyfile(path, copy)
        try:
            opened[path.name] = len(open_document(copy, LIMIT).pages)
        except InputRejected as exc:
            refused[path.name] = exc.reason
    assert opened == CORPUS_OPENED
    assert set(refused) == set(CORPUS_REFUSED)
    for name, words in CORPUS_REFUSED.items():
        assert refused[name].startswith(words), (name, refused[name])


def _image_pdf(path: Path) -> Path:
    import io

    import img2pdf

    buffer = io.BytesIO()
    Image.new("L", (100, 100), 255).save(buffer, "PNG")
    path.write_bytes(img2pdf.convert(buffer.getvalue()))
    return path


@pytest.mark.parametrize("form", [5, pikepdf.Array([1]), pikepdf.String("x")])
def test_a_malformed_form_entry_is_no_form(tmp_path: Path, form: object) -> None:
    """A PDF whose /AcroForm is not a dictionary used to end "failed" with a TypeError."""
    with pikepdf.open(_image_pdf(tmp_path / "plain.pdf")) as pdf:
        pdf.Root.AcroForm = form
        pdf.save(tmp_path / "form.pdf")
    assert len(open_document(tmp_path / "form.pdf", 10**8).pages) == 1


def test_whatever_a_pdf_parser_raises_is_a_refusal(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The class, not the example: any parse error while reading a PDF refuses it (here a
    KeyError injected where the page tree is read)."""
    import ocr.inputs

    def broken(*_: object) -> None:
        raise KeyError("/Kids")

    monkeypatch.setattr(ocr.inputs, "_page_image_dpi", broken)
    with pytest.raises(InputRejected, match="page 1 is damaged and cannot be read"):
        open_document(_image_pdf(tmp_path / "scan.pdf"), 10**8)
