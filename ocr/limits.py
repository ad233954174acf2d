"""Memory limits on the tools OCR starts, next to the time limit and the pixel limit.

A hostile page can make Tesseract or Poppler allocate without end; the pixel limit refuses
most such pages before they are drawn, the timeout stops a tool that runs too long, and this
caps what any one tool process may map. pytesseract and pdf2image start the tools themselves
and take a command path but no hook to run before ``exec``, so each tool is started through a
two-line launcher that sets the address-space limit (``ulimit -v``) and execs the real
binary. The launchers live in a folder of their own under the work area, named by the limit
and the binaries they start, and are written once (write then rename: concurrent workers
agree on the result).

Which tool paths are used is configuration of the process (like ``OMP_THREAD_LIMIT`` in
:mod:`ocr.recognize`): :func:`configure` sets it once per run, before the first page.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytesseract

TOOLS = ("tesseract", "pdftoppm", "pdfinfo", "pdftotext")

# What the tools print when an allocation is refused (Tesseract, Leptonica, libpng, Poppler,
# the C++ runtime and the dynamic loader, which maps libraries inside the same limit).
_OUT_OF_MEMORY = ("out of memory", "insufficient memory", "bad_alloc", "cannot allocate memory",
                  "failed to map segment")


@dataclass(frozen=True)
class ToolPaths:
    """The commands OCR runs: plain names (found on PATH) or limited launchers."""

    tesseract: str = "tesseract"
    pdftotext: str = "pdftotext"
    poppler_dir: str | None = None  # pdf2image's poppler_path: the folder of pdftoppm/pdfinfo
    memory_mb: int = 0  # 0: no limit


_current = ToolPaths()


def current() -> ToolPaths:
    return _current


def configure(memory_mb: int, work: Path) -> ToolPaths:
    """Start every tool of this process through launchers limited to ``memory_mb``.

    A tool that is not installed gets no launcher, so its absence is still reported as
    "not installed" by whoever calls it (and by :func:`ocr.tools.missing_tools`).
    """
    global _current
    if memory_mb <= 0:
        _current = ToolPaths()
    else:
        folder = launchers(work, memory_mb)
        found = {tool: (folder / tool).is_file() for tool in TOOLS}
        poppler = found["pdftoppm"] and found["pdfinfo"]
        _current = ToolPaths(
            tesseract=str(folder / "tesseract") if found["tesseract"] else "tesseract",
            pdftotext=str(folder / "pdftotext") if found["pdftotext"] else "pdftotext",
            poppler_dir=str(folder) if poppler else None,
            memory_mb=memory_mb,
        )
    pytesseract.pytesseract.tesseract_cmd = _current.tesseract
    return _current


def launchers(work: Path, memory_mb: int) -> Path:
    """The folder of launchers for the tools installed now, with this memory limit."""
    real = {tool: shutil.which(tool) for tool in TOOLS}
    key = hashlib.sha256(repr((sorted(real.items()), memory_mb)).encode()).hexdigest()[:16]
    folder = work / f"tools-{key}"
    if folder.is_dir():
        return folder
    stage = work / f".tools-{key}.{uuid.uuid4().hex}"
    stage.mkdir(parents=True)
    for tool, path in real.items():
        if path is None:
            continue
        script = stage / tool
        # exec: the tool keeps the launcher's pid, so a timeout's kill reaches the tool itself.
        script.write_text(f'#!/bin/sh\nulimit -v {memory_mb * 1024}\nexec "{path}" "$@"\n',
                          encoding="utf-8")
        script.chmod(0o500)  # run by records alone, like everything in its home
    try:
        stage.rename(folder)
    except OSError:  # another worker was first: theirs is the same
        shutil.rmtree(stage, ignore_errors=True)
    return folder


def out_of_memory(message: str) -> bool:
    """Whether a tool's error output says an allocation was refused."""
    lowered = message.lower()
    return any(sign in lowered for sign in _OUT_OF_MEMORY)


def memory_reason(tool: str) -> str:
    limit = _current.memory_mb
    return (f"{tool} ran out of memory on the page (limit {limit} MB per tool, setting "
            "ocr.tool_memory_mb): the page is too large or damaged" if limit else
            f"{tool} ran out of memory on the page")

