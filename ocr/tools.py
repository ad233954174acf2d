"""Whether the tools OCR needs are installed, asked once before a batch rather than per page.

A missing Tesseract, language pack or Poppler is the machine's fault, not the scans': it is
reported up front with the package that provides it, and no document is touched.
"""

from __future__ import annotations

import shutil

import pytesseract

from ocr.errors import OcrFailed

POPPLER = ("pdftoppm", "pdfinfo", "pdftotext")


def missing_tools(languages: str, rotate_pages: bool = True) -> list[str]:
    """What is missing for OCR in ``languages`` (Tesseract's "vie+eng" form); empty when ready."""
    problems = [f"{tool} is not installed (Debian package poppler-utils)"
                for tool in POPPLER if shutil.which(tool) is None]
    if shutil.which("tesseract") is None:
        return ["Tesseract is not installed or not on PATH (Debian package tesseract-ocr)",
                *problems]
    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, OSError) as exc:
        return [f"Tesseract does not start: {exc}", *problems]
    wanted = [code for code in languages.split("+") if code]
    if rotate_pages:
        wanted.append("osd")
    problems += [f"Tesseract has no language pack for '{code}' (Debian package "
                 f"tesseract-ocr-{code.replace('_', '-').lower()})"
                 for code in wanted if code not in installed]
    return problems


def installed_languages() -> list[str]:
    """Tesseract's installed language packs, sorted; none when Tesseract does not start."""
    try:
        return sorted(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, OSError):
        return []


def require_tools(languages: str, rotate_pages: bool = True) -> None:
    """Raise :class:`OcrFailed` naming everything missing at once."""
    problems = missing_tools(languages, rotate_pages)
    if problems:
        raise OcrFailed("; ".join(problems))
