"""The typed options of one OCR run, resolved once from settings and the command line."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class OcrOptions:
    """What decides the OCR result of a page; all of it goes into the page cache key."""

    languages: str = "eng"
    rotate_pages: bool = True
    deskew: bool = True
    orientation_gate: float = 65.0
    orientation_min_confidence: float = 2.0
    low_confidence: float = 70.0
    default_dpi: int = 300
    max_page_pixels: int = 400_000_000
    max_pages: int = 2000
    tool_memory_mb: int = 4096
    redo_ocr: bool = False
    page_language: str = "detect"  # several languages: "detect" each page's, or "union"
    page_timeout: float = 300.0
    jobs: int = 0

    @classmethod
    def from_settings(cls, ocr_settings: Any, **overrides: Any) -> OcrOptions:
        known = cls.__dataclass_fields__
        values = {k: v for k, v in ocr_settings.model_dump().items() if k in known}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def workers(self) -> int:
        """Pages recognised at once: one per core unless configured."""
        return self.jobs or (os.cpu_count() or 1)

    def cache_fields(self) -> dict[str, Any]:
        """The options that change a page's result (timeouts and parallelism do not)."""
        fields = asdict(self)
        for key in ("page_timeout", "jobs", "max_page_pixels", "max_pages", "tool_memory_mb"):
            fields.pop(key)
        return fields
