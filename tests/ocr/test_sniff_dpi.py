"""File kinds come from content, resolutions from evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr import dpi
from ocr.sniff import describe_unknown, sniff


@pytest.mark.parametrize(("head", "kind"), [
    (b"%PDF-1.7\n", "pdf"), (b"\x89PNG\r\n\x1a\n....", "png"), (b"\xff\xd8\xff\xe0", "jpeg"),
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"GIF89a", "gif"), (b"junk\n%PDF-1.4", "pdf"),
])
def test_sniff_reads_magic_not_names(tmp_path: Path, head: bytes, kind: str) -> None:
    path = tmp_path / "lying.txt"
    path.write_bytes(head + b"\0" * 32)
    assert sniff(path) == kind


def test_unknown_files_get_reasons(tmp_path: Path) -> None:
    empty, text, damaged = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.pdf"
    empty.write_bytes(b"")
    text.write_text("minutes of the meeting")
    damaged.write_bytes(b"1 0 obj << >> endobj xref")
    assert sniff(empty) is None and describe_unknown(empty) == "empty file (0 bytes)"
    assert "plain text" in describe_unknown(text)
    assert "no PDF header" in describe_unknown(damaged)


def test_dpi_tag_believed_only_in_range() -> None:
    assert dpi.decide((300, 300), 2480, 3508, 200) == dpi.Resolution(300, 300, "tag")
    # TIFFs that claim 1 dpi: A4 pixels at 300 dpi give the answer.
    assert dpi.decide((1, 1), 2480, 3508, 200) == dpi.Resolution(300, 300, "page-size")
    # No tag and no standard sheet: the configured default, said so.
    assert dpi.decide(None, 1850, 2621, 200) == dpi.Resolution(200, 200, "default")
    assert dpi.decide((0, 0), 1240, 1754, 300).source == "page-size"  # A4 at 150


def test_dpi_survives_broken_tags() -> None:
    for tag in [(float("nan"), 300), ("x", "y"), (300,), 72.5, (5000, 5000)]:
        assert dpi.decide(tag, 100, 100, 300).source == "default"
