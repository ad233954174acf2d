"""Hypothesis damages small scans anywhere (not only their headers) and runs them through every
stage a batch runs: validation, page OCR, PDF/A assembly. Each must end in a PDF/A or in a
refusal with a reason (InputRejected, quarantined by a batch); any other exception would end
the document "failed", as if the machine were at fault."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import img2pdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ocr.assemble import DocumentInfo
from ocr.errors import InputRejected
from ocr.inputs import open_document
from ocr.options import OcrOptions
from ocr.pipeline import build_pdfa, ocr_pages


def _sample(kind: str) -> bytes:
    image = Image.new("L", (240, 80), 255)
    ImageDraw.Draw(image).text((10, 30), "Records 2024", fill=0)
    buffer = io.BytesIO()
    if kind == "tif":
        image.convert("1").save(buffer, "TIFF", compression="group4", dpi=(100, 100))
    else:
        image.save(buffer, {"png": "PNG", "jpg": "JPEG"}.get(kind, "PNG"), dpi=(100, 100))
    data = buffer.getvalue()
    return img2pdf.convert(data) if kind == "pdf" else data


SAMPLES = {kind: _sample(kind) for kind in ("png", "tif", "jpg", "pdf")}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=10),
       cut=st.one_of(st.none(), st.floats(0.2, 1)))
def test_damage_anywhere_ends_archived_or_refused(kind: str, edits: list[tuple[float, int]],
                                                  cut: float | None) -> None:
    data = bytearray(SAMPLES[kind])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    with tempfile.TemporaryDirectory() as folder:
        scan = Path(folder) / f"scan.{kind}"
        scan.write_bytes(bytes(data))
        options = OcrOptions(languages="eng", jobs=1)
        try:
            doc = open_document(scan, max_pixels=10_000_000)
            pages = ocr_pages(doc, options, Path(folder) / "cache")
            build_pdfa(doc, pages, Path(folder) / "out.pdf", DocumentInfo(title="fuzz"),
                       options, Path(folder) / "cache")
        except InputRejected as exc:
            assert exc.reason and "\n" not in exc.reason
        else:
            assert (Path(folder) / "out.pdf").stat().st_size > 0
        assert scan.read_bytes() == bytes(data)  # the original is never changed
