"""Turning pages fed sideways or upside down upright, with Tesseract's OSD.

OSD costs as much as recognising the page (about a second: it loads its own model and
analyses the layout), so the page stage consults it only when recognition of the page as it
lies is doubtful. Upright pages, the great majority, pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytesseract

from ocr.errors import OcrFailed


@dataclass(frozen=True)
class Orientation:
    rotate: int  # degrees clockwise that turn the page upright: 0, 90, 180, 270
    confidence: float


def detect_orientation(image_path: Path, timeout: float) -> Orientation:
    """Ask OSD how to turn the page; a page with too little text answers 'as it lies'."""
    try:
        osd = pytesseract.image_to_osd(
            str(image_path), config="--psm 0", timeout=timeout,
            output_type=pytesseract.Output.DICT,
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrFailed("Tesseract is not installed or not on PATH") from exc
    except pytesseract.TesseractError:
        # "Too few characters": OSD cannot judge; recognition's result stands.
        return Orientation(0, 0.0)
    except RuntimeError as exc:
        raise OcrFailed(f"orientation detection timed out after {timeout:.0f} s") from exc
    return Orientation(int(osd["rotate"]) % 360, float(osd["orientation_conf"]))
