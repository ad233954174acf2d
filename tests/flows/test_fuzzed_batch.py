"""Files no test has seen, through a real batch: a seeded fuzzer damages scanner output (PNG,
TIFF G4, JPEG, and image-only PDFs of each) and none of it may end "failed". Whatever the
damage, a document is archived or quarantined with a one-line reason: "failed" is for faults
of the machine, and queueing the same bytes again would fail them forever."""

from __future__ import annotations

import io
import random
import zlib
from pathlib import Path

import img2pdf
import pikepdf
import pytest
from PIL import Image

from flows.digitise import digitise_batch
from tests.conftest import Scans

MUTANTS = 6  # per base file


def _bases(scans: Scans) -> dict[str, bytes]:
    """Small scans of a letter's heading (cheap to OCR), as a scanner writes them."""
    page, _ = scans.page("eng", seed=81)
    with Image.open(page) as full:
        head = full.convert("L").crop((0, 0, full.width, full.height // 5))
        head = head.resize((head.width // 3, head.height // 3))
    files: dict[str, bytes] = {}
    for name, image, fmt, extra in (("png", head, "PNG", {}),
                                    ("jpg", head, "JPEG", {"quality": 80}),
                                    ("tif", head.convert("1"), "TIFF",
                                     {"compression": "group4"})):
        buffer = io.BytesIO()
        image.save(buffer, fmt, dpi=(100, 100), **extra)
        files[name] = buffer.getvalue()
        files[f"{name}.pdf"] = img2pdf.convert(buffer.getvalue())
    return files


def _mutants(data: bytes, rng: random.Random) -> list[bytes]:
    """Flipped bytes, a cut-off end, a zeroed block: what disks, transfers and scanners do."""
    out = []
    for kind in range(MUTANTS):
        copy = bytearray(data)
        if kind % 3 == 0:
            for _ in range(rng.randint(1, 8)):
                copy[rng.randrange(8, len(copy))] = rng.randrange(256)
        elif kind % 3 == 1:
            copy = copy[: rng.randint(len(copy) // 3, len(copy) - 1)]
        else:
            start = rng.randrange(8, max(9, len(copy) - 64))
            copy[start:start + 64] = bytes(64)
        out.append(bytes(copy))
    return out


def _undecodable_content(image_pdf: bytes) -> bytes:
    """A PDF whose page content stream cannot be decoded (pikepdf: "errors while decoding")."""
    with pikepdf.open(io.BytesIO(image_pdf)) as pdf:
        page = pdf.pages[0]
        good = zlib.compress(page.Contents.read_bytes())
        stream = pikepdf.Stream(pdf, good[:2] + b"\xff\xfe\xfd garbage" + good[12:])
        stream.Filter = pikepdf.Name.FlateDecode
        page.obj.Contents = stream
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


@pytest.mark.flow
def test_no_damaged_input_ends_failed(scans: Scans, tmp_path: Path, home: Path) -> None:
    batch = tmp_path / "fuzzed"
    batch.mkdir()
    rng = random.Random(20261203)
    bases = _bases(scans)
    for name, data in bases.items():
        for number, mutant in enumerate(_mutants(data, rng)):
            stem, _, suffix = name.partition(".")
            (batch / f"{stem}-{number}.{suffix or stem}").write_bytes(mutant)
    (batch / "content-stream.pdf").write_bytes(_undecodable_content(bases["png.pdf"]))
    originals = {p.name: p.read_bytes() for p in batch.iterdir()}

    report = digitise_batch(paths=[str(batch)], batch_id="B-fuzz", unit="VP", languages="eng")

    outcomes = {d.source: (d.status, d.reason or "") for d in report.documents}
    assert len(outcomes) == len(originals)
    failed = {k: v for k, v in outcomes.items() if v[0] not in ("archived", "quarantined")}
    assert failed == {}
    for name, (status, reason) in outcomes.items():
        if status == "quarantined":
            assert reason and "\n" not in reason and "Traceback" not in reason, name
            assert (home / "quarantine" / "B-fuzz" / f"{name}.reason.json").is_file(), name
    assert outcomes["content-stream.pdf"][0] == "quarantined"
    assert "page 1 is damaged" in outcomes["content-stream.pdf"][1]
    assert {p.name: p.read_bytes() for p in batch.iterdir()} == originals
