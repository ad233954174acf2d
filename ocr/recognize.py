"""Recognition: one Tesseract call per page writes its text, hOCR and ALTO.

One process per page, each limited to one OpenMP thread: pages run in parallel up to the
cores, which measured three times faster than letting Tesseract thread a page by itself.
The timeout is on the subprocess, as a thread cannot be interrupted from outside.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytesseract

from ocr.errors import InputRejected, OcrFailed
from ocr.limits import memory_reason, out_of_memory

# Applies to every Tesseract this process starts; the engine's parallelism is ours.
os.environ["OMP_THREAD_LIMIT"] = "1"

OUTPUTS = ("txt", "hocr", "alto")
_ALTO_SUFFIX = ".xml"


@dataclass(frozen=True)
class Recognition:
    """Where the page's outputs are, and what they say about its quality."""

    base: Path  # outputs are base.txt, base.hocr and base.xml (ALTO)
    text: str
    words: int
    mean_confidence: float  # mean word confidence, 0-100; 0 when there are no words
    sideways: float = 0.0  # share of the text (by characters) set in lines taller than wide


@cache
def tesseract_version() -> str:
    """The engine's version, recorded with every page (and part of the page cache key)."""
    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise OcrFailed("Tesseract is not installed or not on PATH") from exc


@dataclass(frozen=True)
class AltoSummary:
    confidences: list[float]  # per word, 0-100
    sideways: float  # share of characters in lines taller than wide


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_alto(alto: Path) -> AltoSummary:
    """Word confidences (ALTO's WC) and how much of the text stands in vertical lines.

    Tesseract reads a page fed sideways by itself, in vertical lines, with good confidence;
    the page would still be shown sideways. Vertical lines are how such a page is told apart.
    """
    confidences: list[float] = []
    upright = vertical = 0
    for line in ET.parse(alto).iter():
        if _local(line.tag) != "TextLine":
            continue
        chars = 0
        for word in line:
            content = word.get("CONTENT", "").strip()
            if _local(word.tag) == "String" and content:
                confidences.append(float(word.get("WC", "0")) * 100)
                chars += len(content)
        if float(line.get("HEIGHT", 0)) > 2 * float(line.get("WIDTH", 0)):
            vertical += chars
        else:
            upright += chars
    total = upright + vertical
    return AltoSummary(confidences, vertical / total if total else 0.0)


@dataclass(frozen=True)
class Tessdata:
    """Where Tesseract's models are, and which it has: language models ("vie") and script
    models ("Vietnamese"), which pytesseract's listing leaves out for their capitals."""

    folder: Path | None
    models: frozenset[str]


@cache
def tessdata() -> Tessdata:
    """Tesseract's own ``--list-langs``: its folder in quotes, then a model a line."""
    try:
        listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True,
                                 text=True, check=False, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise OcrFailed("Tesseract is not installed or not on PATH") from exc
    found = re.search(r'"(.+?)"', listing)
    models = frozenset(line.strip() for line in listing.splitlines()[1:] if line.strip())
    return Tessdata(Path(found.group(1)) if found else None, models)


def installed_models() -> frozenset[str]:
    """The models Tesseract can load here ("vie", "Vietnamese", ...)."""
    try:
        return tessdata().models
    except OcrFailed:
        return frozenset()


@dataclass(frozen=True)
class AltoLine:
    """One line Tesseract read: its words, and where it stands on the recognised image."""

    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom, in the image's pixels


def alto_lines(alto: Path) -> list[AltoLine]:
    """The page's lines in reading order, for reading one of them again on its own."""
    lines = []
    for line in ET.parse(alto).iter():
        if _local(line.tag) != "TextLine":
            continue
        words = [word.get("CONTENT", "").strip() for word in line
                 if _local(word.tag) == "String"]
        text = " ".join(word for word in words if word)
        if not text:
            continue
        left, top = round(float(line.get("HPOS", 0))), round(float(line.get("VPOS", 0)))
        box = (left, top, left + round(float(line.get("WIDTH", 0))),
               top + round(float(line.get("HEIGHT", 0))))
        lines.append(AltoLine(text, box))
    return lines


def recognize(image: Path, base: Path, languages: str, dpi: float, timeout: float) -> Recognition:
    """Recognise *image* (upright, level) and write its outputs next to *base*."""
    config = f"--psm 3 --dpi {round(dpi)}"
    try:
        pytesseract.pytesseract.run_tesseract(
            str(image), str(base), " ".join(OUTPUTS), languages, config, 0, timeout
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrFailed("Tesseract is not installed or not on PATH") from exc
    except pytesseract.TesseractError as exc:
        raise _failure(exc) from exc
    except RuntimeError as exc:
        raise OcrFailed(f"Tesseract took longer than {timeout:.0f} s on the page") from exc
    except subprocess.SubprocessError as exc:
        raise OcrFailed(f"Tesseract could not run: {exc}") from exc
    alto = read_alto(base.with_suffix(_ALTO_SUFFIX))
    words = len(alto.confidences)
    mean = sum(alto.confidences) / words if words else 0.0
    text = base.with_suffix(".txt").read_text(encoding="utf-8")
    return Recognition(base, text, words, round(mean, 2), round(alto.sideways, 3))


def _failure(exc: pytesseract.TesseractError) -> Exception:
    """What a failed Tesseract run means: the page is too much for the memory limit (quarantine
    it), or the engine crashed or erred (report it; a rerun may succeed)."""
    message = str(exc.message).strip()
    if out_of_memory(message):
        return InputRejected(memory_reason("Tesseract"))
    if isinstance(exc.status, int) and exc.status < 0:
        try:
            name = signal.Signals(-exc.status).name
        except ValueError:
            name = f"signal {-exc.status}"
        return OcrFailed(f"Tesseract crashed ({name}) on the page")
    return OcrFailed(f"Tesseract failed on the page: {message[-300:]}")
