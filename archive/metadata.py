"""A record's sidecar: descriptive, technical and provenance metadata, PREMIS-style events.

The full extraction of document numbers, dates and issuers from the text belongs to the
"archival copies" work; here the sidecar carries what the manifest and the OCR know.
"""

from __future__ import annotations

import getpass
import platform
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any

from archive.batches import now

# Tesseract language codes to the BCP 47 tags PDF and Dublin Core use.
BCP47 = {"vie": "vi", "deu": "de", "eng": "en", "fra": "fr"}


@dataclass
class Event:
    """One PREMIS-style event in a record's life."""

    type: str  # received, validated, ocr, pdfa-validated, stored, ...
    outcome: str  # success, failure
    detail: str = ""
    time: str = field(default_factory=now)
    agent: str = field(default_factory=lambda: f"{getpass.getuser()}@{platform.node()}")
    tool: str = field(default_factory=lambda: f"records {version('records')}")
    checksums_in: dict[str, str] = field(default_factory=dict)
    checksums_out: dict[str, str] = field(default_factory=dict)


@dataclass
class Descriptive:
    title: str
    unit: str
    series: str = ""
    classification: str = "public"
    date: str = ""
    language: str = "eng"

    @property
    def bcp47(self) -> str:
        return "-".join(dict.fromkeys(BCP47.get(code, code) for code in self.language.split("+")))


def sidecar(
    descriptive: Descriptive, technical: dict[str, Any], events: list[Event], batch_id: str,
    content_sha: str, source: str,
) -> dict[str, Any]:
    return {
        "schema": "records/record/1",
        "batch_id": batch_id,
        "source": source,
        "content_sha256": content_sha,
        "descriptive": asdict(descriptive),
        "technical": technical,
        "provenance": [asdict(e) for e in events],
    }
