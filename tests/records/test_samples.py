"""The synthetic scans must be repeatable, readable by Tesseract and shaped like a batch.

Demos and benchmarks rest on these pages: if the same seed gave different bytes the
pinned results would drift, and if Tesseract could not read a clean page the OCR
stage could not be told apart from a broken sample generator.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import asdict
from pathlib import Path

import pytest
from PIL import Image

from ocr.quality import cer, edit_distance
from records.samples import (
    LetterTruth,
    PageStyle,
    make_letter,
    render_batch,
    render_broken,
    render_page,
    save_page,
)


def _cer(truth: str, hypothesis: str) -> float:
    return cer(truth, hypothesis)


def test_cer_helper() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert _cer("Hà  Nội\n", "Hà Nội") == 0.0


def test_same_seed_same_truth_and_bytes(tmp_path: Path) -> None:
    assert make_letter("vie", 11) == make_letter("vie", 11)
    assert make_letter("vie", 11) != make_letter("vie", 12)
    truth = make_letter("deu", 5, pages=1)
    style = PageStyle(skew=1.5, noise=0.5)
    first = save_page(render_page(truth.pages[0], style, seed=3), tmp_path / "a.png", style)
    second = save_page(render_page(truth.pages[0], style, seed=3), tmp_path / "b.png", style)
    assert first.read_bytes() == second.read_bytes()
    other = save_page(render_page(truth.pages[0], style, seed=4), tmp_path / "c.png", style)
    assert other.read_bytes() != first.read_bytes()


def test_letters_carry_their_fields_and_diacritics() -> None:
    vie, deu, eng = (make_letter(lang, 2, pages=2) for lang in ("vie", "deu", "eng"))
    for truth in (vie, deu, eng):
        assert len(truth.pages) == 2
        first = truth.pages[0]
        assert truth.issuer.split(" / ")[0] in first
        assert truth.title.split()[0] in first
        assert truth.pages == [unicodedata.normalize("NFC", p) for p in truth.pages]
    assert f"Số: {vie.document_number}" in vie.pages[0]
    assert f"Az. {deu.document_number}" in deu.pages[0]
    assert f"No. {eng.document_number}" in eng.pages[0]
    assert re.search(r"ngày \d\d? tháng \d\d? năm \d{4}", vie.pages[0])
    vie_text = " ".join(make_letter("vie", seed, pages=2).pages[0] for seed in range(4))
    assert set("đĐơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ") & set(vie_text)
    assert "đ" in vie_text and "Đ" in vie_text
    deu_text = " ".join(make_letter("deu", seed, pages=2).pages[0] for seed in range(4))
    assert "ß" in deu_text and set("äöüÄÖÜ") & set(deu_text)
    with pytest.raises(ValueError):
        make_letter("fra", 1)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_reads_a_clean_vietnamese_page(tmp_path: Path) -> None:
    truth = make_letter("vie", 7, pages=2)
    style = PageStyle()
    image = render_page(truth.pages[0], style)
    assert image.size == (2480, 3508)
    path = save_page(image, tmp_path / "page.png", style)
    result = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "vie"],
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    cer = _cer(truth.pages[0], result.stdout)
    assert cer < 0.05, f"CER {cer:.3%}\n{result.stdout}"


def test_rotated_page_swaps_dimensions() -> None:
    text = make_letter("eng", 1, pages=1).pages[0]
    upright = render_page(text, PageStyle(dpi=100))
    turned = render_page(text, PageStyle(rotation=90, dpi=100))
    upside = render_page(text, PageStyle(rotation=180, dpi=100))
    assert turned.size == (upright.height, upright.width)
    assert upside.size == upright.size
    assert turned.tobytes() == upright.transpose(Image.Transpose.ROTATE_90).tobytes()


def test_bilevel_and_encodings(tmp_path: Path) -> None:
    text = make_letter("deu", 1, pages=1).pages[0]
    style = PageStyle(bilevel=True, encoding="tiff-g4", dpi=150)
    image = render_page(text, style)
    assert image.mode == "1"
    with Image.open(save_page(image, tmp_path / "p.tif", style)) as saved:
        assert saved.info["compression"] == "group4"
        assert tuple(round(v) for v in saved.info["dpi"]) == (150, 150)
    jpeg = PageStyle(encoding="jpeg", dpi=150)
    with Image.open(save_page(render_page(text, jpeg), tmp_path / "p.jpg", jpeg)) as saved:
        assert saved.format == "JPEG"
    with pytest.raises(ValueError):
        PageStyle(encoding="tiff-g4")
    with pytest.raises(ValueError):
        PageStyle(rotation=45)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, LetterTruth]]]:
    dest = tmp_path_factory.mktemp("samples") / "batch"
    return dest, render_batch(dest, seed=0)


def test_batch_has_the_shapes_of_a_records_office(
    batch: tuple[Path, list[tuple[Path, LetterTruth]]],
) -> None:
    dest, records = batch
    assert len(records) == 6
    children = {p.name for p in dest.iterdir()} - {"manifest.csv"}
    assert children == {path.name for path, _ in records}
    sizes: list[tuple[int, int]] = []

    folders = [(p, t) for p, t in records if p.is_dir()]
    assert folders
    for path, truth in folders:
        names = sorted(p.name for p in path.iterdir())
        assert names == sorted(f"page-{n}.png" for n in range(1, len(truth.pages) + 1))
        for name in names:
            with Image.open(path / name) as page:
                assert page.format == "PNG"
                sizes.append(page.size)

    tiffs = [(p, t) for p, t in records if p.suffix == ".tif"]
    assert tiffs
    for path, truth in tiffs:
        with Image.open(path) as tiff:
            assert tiff.n_frames == len(truth.pages) > 1
            for frame in range(tiff.n_frames):
                tiff.seek(frame)
                assert tiff.mode == "1"
                assert tiff.info["compression"] == "group4"
                sizes.append(tiff.size)

    singles = {p.suffix: (p, t) for p, t in records if p.suffix in (".jpg", ".png")}
    assert set(singles) == {".jpg", ".png"}
    for suffix, fmt in ((".jpg", "JPEG"), (".png", "PNG")):
        path, truth = singles[suffix]
        assert len(truth.pages) == 1
        with Image.open(path) as single:
            assert single.format == fmt
            assert tuple(round(v) for v in single.info["dpi"]) == (300, 300)
            sizes.append(single.size)

    assert (2480, 3508) in sizes and (3508, 2480) in sizes  # some pages came in sideways
    assert {t.language for _, t in records} == {"vie", "deu", "eng"}


def test_batch_manifest_and_truth_sit_where_they_belong(
    batch: tuple[Path, list[tuple[Path, LetterTruth]]],
) -> None:
    dest, records = batch
    with (dest / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "source",
        "title",
        "unit",
        "series",
        "classification",
        "date",
        "language",
    ]
    assert [r["source"] for r in rows] == [p.name for p, _ in records]
    for row, (_, truth) in zip(rows, records, strict=True):
        assert row["title"] == truth.title
        assert row["date"] == truth.document_date
        assert row["language"] == truth.language
        assert row["unit"]
        assert row["classification"] in {"public", "internal", "restricted"}

    truth_file = dest.parent / "batch.truth.json"
    assert truth_file.is_file()
    assert not list(dest.glob("*.json"))
    saved = json.loads(truth_file.read_text(encoding="utf-8"))
    assert saved == [{"source": p.name, **asdict(t)} for p, t in records]


def test_broken_records(tmp_path: Path) -> None:
    written = render_broken(tmp_path)
    assert (tmp_path / "empty.pdf").stat().st_size == 0
    with pytest.raises(OSError), Image.open(tmp_path / "truncated.png") as png:
        png.load()
    with pytest.raises(OSError):
        Image.open(tmp_path / "notes.tif")
    if "secret.pdf" in written:
        pikepdf = pytest.importorskip("pikepdf")
        with pytest.raises(pikepdf.PasswordError):
            pikepdf.open(tmp_path / "secret.pdf")
        with pikepdf.open(tmp_path / "secret.pdf", password="u") as pdf:
            assert len(pdf.pages) == 1
    assert set(written) <= {p.name for p in tmp_path.iterdir()}


def test_pages_stay_inside_the_margins() -> None:
    """make_letter pre-wraps and paginates, so every page must fit the text block."""
    from PIL import ImageFont

    folder = "/usr/share/fonts/truetype/dejavu"
    regular = ImageFont.truetype(f"{folder}/DejaVuSerif.ttf", 50)
    bold = ImageFont.truetype(f"{folder}/DejaVuSerif-Bold.ttf", 50)
    column = (210 - 30 - 20) / 25.4 * 300  # A4 less the margins, at 300 dpi, in px
    for language in ("vie", "deu", "eng"):
        for seed in range(6):
            for page in make_letter(language, seed, pages=3).pages:
                lines = page.split("\n")
                assert len(lines) <= 43
                letterhead = lines[: lines.index("")]
                for line in lines:
                    font = bold if line in letterhead or line.isupper() else regular
                    assert font.getlength(line) <= column, line
