"""A fuzz pass over image headers: a scan whose first bytes are damaged is refused with a
reason (InputRejected) or read, never anything else, and never slowly."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ocr.errors import InputRejected
from ocr.inputs import open_document


def sample(kind: str) -> bytes:
    image = Image.new("L", (64, 48), 255)
    buffer = io.BytesIO()
    image.save(buffer, {"png": "PNG", "tif": "TIFF", "jpg": "JPEG"}[kind], dpi=(300, 300))
    return buffer.getvalue()


SAMPLES = {kind: sample(kind) for kind in ("png", "tif", "jpg")}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.differing_executors])
@given(edits=st.lists(st.tuples(st.integers(0, 127), st.integers(0, 255)), min_size=1,
                      max_size=12), cut=st.one_of(st.none(), st.integers(0, 400)))
def test_damaged_headers_are_refused_or_read(kind: str, edits: list[tuple[int, int]],
                                             cut: int | None) -> None:
    data = bytearray(SAMPLES[kind])
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as folder:
        scan = Path(folder) / f"scan.{kind}"
        scan.write_bytes(bytes(data))
        started = time.perf_counter()
        try:
            document = open_document(scan, max_pixels=10_000_000)
        except InputRejected as exc:
            assert exc.reason and "Traceback" not in exc.reason
        else:
            assert document.pages
        assert time.perf_counter() - started < 5
        assert scan.read_bytes() == bytes(data)  # the original is never changed
