"""Scans to searchable PDF/A-2b: small single-purpose stages, no orchestration inside."""

from ocr.errors import InputRejected, OcrFailed
from ocr.options import OcrOptions

__all__ = ["InputRejected", "OcrFailed", "OcrOptions"]
