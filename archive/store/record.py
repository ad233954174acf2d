"""A record's metadata: descriptive, technical and provenance (PREMIS-style events).

This is the shape of ``record.json``, the sidecar of every record, and of the Dublin Core
written into its PDF. Descriptive fields say where each value came from (``sources``: the
records officer's manifest, the text of the document, or the batch's defaults; see
``archive.intake.describe``), so an archivist knows which values a person gave and which a
machine read.
"""

from __future__ import annotations

import getpass
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from ocr.xmp import DocumentInfo

# Tesseract language codes to the BCP 47 tags PDF and Dublin Core use.
BCP47 = {"vie": "vi", "deu": "de", "eng": "en", "fra": "fr"}


def now() -> str:
    """The time events and ledgers are stamped with: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Event:
    """One PREMIS-style event in a record's life."""

    type: str  # received, validated, ocr, pdfa-validated, signed, verified, stored, fixity
    outcome: str  # success, failure
    detail: str = ""
    time: str = field(default_factory=now)
    agent: str = field(default_factory=lambda: f"{getpass.getuser()}@{platform.node()}")
    tool: str = field(default_factory=lambda: f"records {version('records')}")
    checksums_in: dict[str, str] = field(default_factory=dict)
    checksums_out: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None  # how long the step took, where it is worth knowing


@dataclass
class Descriptive:
    title: str
    unit: str
    series: str = ""
    classification: str = "public"
    date: str = ""
    language: str = "eng"
    document_type: str = ""
    document_number: str = ""
    issuer: str = ""
    subjects: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # field -> manifest|extracted|default

    @property
    def bcp47(self) -> str:
        return "-".join(dict.fromkeys(BCP47.get(code, code) for code in self.language.split("+")))


def dublin_core(descriptive: Descriptive, record_id: str) -> DocumentInfo:
    """The Dublin Core written into the PDF's XMP, derived from the sidecar alone.

    Verification recomputes this from ``record.json`` and compares it with the signed XMP.
    """
    return DocumentInfo(
        title=descriptive.title, author=descriptive.issuer or descriptive.unit,
        language=descriptive.bcp47, identifier=record_id, date=descriptive.date,
        type=descriptive.document_type, source=descriptive.document_number,
        rights=f"Classification: {descriptive.classification}",
        publisher=descriptive.unit,
        subjects=tuple(s for s in (descriptive.series, *descriptive.subjects) if s),
    )


def descriptive_from(record: dict[str, Any]) -> Descriptive:
    """The Descriptive of a ``record.json`` (tolerating sidecars written before a field)."""
    known = Descriptive.__dataclass_fields__
    return Descriptive(**{k: v for k, v in record["descriptive"].items() if k in known})


def sidecar(
    descriptive: Descriptive, technical: dict[str, Any], events: list[Event], batch_id: str,
    content_sha: str, source: str, signature: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema": "records/record/2",
        "batch_id": batch_id,
        "source": source,
        "content_sha256": content_sha,
        "descriptive": asdict(descriptive),
        "technical": technical,
        "signature": signature,
        "provenance": [asdict(e) for e in events],
    }
