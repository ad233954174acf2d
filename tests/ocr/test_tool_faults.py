"""The tools OCR runs, failing: out of memory, crashed, hung, missing, drawing nothing.

The faults are injected by putting a stand-in for the tool first on PATH (a two-line shell
script that crashes or hangs); the memory limit is the real ``ulimit`` on the real Tesseract.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from ocr import limits
from ocr.errors import InputRejected, OcrFailed
from ocr.inputs import open_document
from ocr.raster import pdf_raster
from ocr.recognize import recognize
from ocr.tools import missing_tools
from tests.conftest import Scans


@pytest.fixture(autouse=True)
def unlimited_afterwards(tmp_path: Path) -> Iterator[None]:
    yield
    limits.configure(0, tmp_path)


def _stand_in(folder: Path, tool: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    script = folder / tool
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return folder


def _on_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def _running(command_line: bytes) -> list[Path]:
    """Processes whose command line starts so (read from /proc: no procps needed)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if entry.read_bytes().startswith(command_line):
                found.append(entry.parent)
        except OSError:  # ended meanwhile
            continue
    return found


def test_a_page_over_the_memory_limit_is_refused_with_the_limit_named(
        scans: Scans, tmp_path: Path) -> None:
    page, _ = scans.page("eng", seed=31)
    tools = limits.configure(40, tmp_path / "work")
    assert Path(tools.tesseract).parent.name.startswith("tools-")
    with pytest.raises(InputRejected) as refused:
        recognize(page, tmp_path / "out", "eng", 300, timeout=60)
    assert "ran out of memory" in refused.value.reason
    assert "40 MB" in refused.value.reason and "ocr.tool_memory_mb" in refused.value.reason
    limits.configure(4096, tmp_path / "work")  # the default limit leaves room for a letter
    assert recognize(page, tmp_path / "out", "eng", 300, timeout=60).words > 50


def test_launchers_are_shared_and_limit_each_tool(tmp_path: Path) -> None:
    first = limits.launchers(tmp_path, 512)
    assert limits.launchers(tmp_path, 512) == first != limits.launchers(tmp_path, 1024)
    limit = subprocess.run([str(first / "pdftoppm"), "-v"], capture_output=True, text=True,
                           check=False)
    assert "pdftoppm version" in limit.stderr
    assert "ulimit -v 524288\n" in (first / "tesseract").read_text()


def test_a_crashing_tesseract_is_a_failure_not_a_quarantine(
        scans: Scans, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page, _ = scans.page("eng", seed=31)
    _on_path(monkeypatch, _stand_in(tmp_path / "bin", "tesseract", "kill -SEGV $$"))
    limits.configure(4096, tmp_path / "work")
    with pytest.raises(OcrFailed) as failed:
        recognize(page, tmp_path / "out", "eng", 300, timeout=60)
    assert failed.value.reason == "Tesseract crashed (SIGSEGV) on the page"


def test_a_hung_tesseract_is_stopped_at_the_page_timeout(
        scans: Scans, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page, _ = scans.page("eng", seed=31)
    _on_path(monkeypatch, _stand_in(tmp_path / "bin", "tesseract", "exec sleep 987"))
    limits.configure(4096, tmp_path / "work")
    started = time.monotonic()
    with pytest.raises(OcrFailed) as failed:
        recognize(page, tmp_path / "out", "eng", 300, timeout=2)
    assert time.monotonic() - started < 15
    assert "took longer than 2 s" in failed.value.reason
    assert not _running(b"sleep\x00987"), "the hung process was left running"


def test_pdftoppm_drawing_nothing_is_a_failure(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = tmp_path / "scan.pdf"
    Image.new("L", (850, 1100), 255).save(pdf, resolution=100.0)
    ref = open_document(pdf, 400_000_000).pages[0]
    _on_path(monkeypatch, _stand_in(tmp_path / "bin", "pdftoppm",
                                    "echo 'I/O Error: disk gone' >&2; exit 1"))
    limits.configure(4096, tmp_path / "work")
    with pytest.raises(OcrFailed, match="pdftoppm drew nothing for page 1"):
        pdf_raster(ref, timeout=30)
    monkeypatch.undo()
    limits.configure(4096, tmp_path / "work")
    assert pdf_raster(ref, timeout=30).image.width > 0


def test_missing_tesseract_and_language_packs_are_named(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert missing_tools("vie+deu+eng") == []
    assert missing_tools("eng+xyz") == [
        "Tesseract has no language pack for 'xyz' (Debian package tesseract-ocr-xyz)"]
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("pdftoppm", "pdfinfo"):
        (bare / tool).symlink_to(f"/usr/bin/{tool}")
    monkeypatch.setenv("PATH", str(bare))
    assert missing_tools("eng") == [
        "Tesseract is not installed or not on PATH (Debian package tesseract-ocr)",
        "pdftotext is not installed (Debian package poppler-utils)"]
