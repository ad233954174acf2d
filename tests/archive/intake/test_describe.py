"""Descriptive metadata: manifest over extracted over defaults, each field with its source."""

from __future__ import annotations

from archive.intake import Extracted, describe_record
from archive.store import Descriptive, descriptive_from, dublin_core

FOUND = Extracted(document_number="12/QĐ-VP", document_date="2024-09-16",
                  issuer="BỘ QUỐC PHÒNG / VĂN PHÒNG", document_type="QUYẾT ĐỊNH",
                  title="Về số hóa")
DEFAULTS = {"unit": "VP", "series": "", "classification": "public", "language": "vie"}


def test_manifest_wins_then_extracted_then_default() -> None:
    described = describe_record({"title": "Given title", "date": "2024-01-02"}, DEFAULTS, FOUND,
                                "scan")
    assert (described.title, described.date) == ("Given title", "2024-01-02")
    assert described.document_number == "12/QĐ-VP" and described.unit == "VP"
    assert described.sources == {"title": "manifest", "date": "manifest", "unit": "default",
                                 "classification": "default", "language": "default",
                                 "document_type": "extracted",
                                 "document_number": "extracted", "issuer": "extracted"}


def test_a_date_that_is_not_a_date_falls_through() -> None:
    described = describe_record({"date": "2024-02-31"}, DEFAULTS, FOUND, "scan")
    assert described.date == "2024-09-16" and described.sources["date"] == "extracted"
    nothing = Extracted(None, None, None, None, None)
    described = describe_record({"date": "16/9/2024"}, DEFAULTS, nothing, "scan")
    assert described.date == "" and "date" not in described.sources
    assert (described.title, described.sources["title"]) == ("scan", "default")


def test_dublin_core_comes_from_the_sidecar_alone() -> None:
    described = describe_record({"subjects": "nhân sự; lưu trữ"}, DEFAULTS, FOUND, "scan")
    record = {"descriptive": {**described.__dict__, "unknown_later_field": 1}}
    again = descriptive_from(record)
    assert isinstance(again, Descriptive) and again == described
    core = dublin_core(again, "VP-2024-000001")
    assert core.identifier == "VP-2024-000001" and core.author == "BỘ QUỐC PHÒNG / VĂN PHÒNG"
    assert core.source == "12/QĐ-VP"
    assert core.subjects == ("lưu trữ", "nhân sự")  # a set (XMP Bag): one canonical order
    assert core.rights == "Classification: public" and core.language == "vi"


def test_a_manifest_raises_the_classification_but_never_lowers_it() -> None:
    secret_batch = {**DEFAULTS, "classification": "secret"}
    lowered = describe_record({"classification": "public"}, secret_batch, FOUND, "scan")
    assert (lowered.classification, lowered.sources["classification"]) == ("secret", "default")
    raised = describe_record({"classification": "confidential"}, DEFAULTS, FOUND, "scan")
    assert (raised.classification, raised.sources["classification"]) == ("confidential",
                                                                          "manifest")
