"""Why a record needs a person: the review queue's reasons, read off the record itself.

A record lands in the queue when the machine could not be trusted with it: pages recognised
with low confidence, a title that is the scan's file name or a run-on OCR sentence, a type,
date or issuer it could not read. Each reason says what a person should look at. A record
leaves the queue when a person has acted on it (a correction, or "reviewed: nothing to
correct"): the reasons are kept, so a manager sees what was reviewed and why.

A field a person gave (the manifest) or corrected is never a reason: only what the machine
read or fell back to. The reasons are derived data, recomputed whenever the record is
catalogued, so a correction that fixes a field removes its reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

LONG_TITLE = 30
"""Words beyond which a title is a sentence the OCR ran on, not a title (subjects of
Vietnamese letters run to 20-25 words; a misread body paragraph to 60)."""
UNSURE_PAGE = 85.0
"""Mean word confidence below which a page's text is worth a person's look. Higher than the
OCR's own flag (``ocr.low_confidence``, 70, where a page is plainly unreadable): measured on
rendered letters (bench/review.py), pages at 78-90 still carried misread fields, pages above
90 rarely did."""
EARLIEST = date(1900, 1, 1)
"""A document date before this is a misread year (the archives digitised are 20th and 21st
century records); one after the day the record was archived, too."""
UNSURE = "unsure: "
"""How a field's source starts when the machine kept its best reading without being sure of
it (``archive.intake.describe`` writes it): the queue names the field and why."""
PERSON = ("manifest", "corrected")
"""Sources that are a person's word: never second-guessed by the queue."""


def review_reasons(record: dict[str, Any]) -> list[str]:
    """Why ``record`` (a sidecar, with its current description) needs a person; empty when it
    does not."""
    described = record.get("descriptive") or {}
    sources: dict[str, str] = described.get("sources") or {}

    def machine(name: str) -> bool:
        return not str(sources.get(name, "")).startswith(PERSON)

    reasons = _low_confidence(record.get("technical") or {})
    title = str(described.get("title") or "")
    if machine("title"):
        if sources.get("title") == "default" or not title.strip():
            reasons.append("title is the file name: no subject line was read")
        elif len(title.split()) > LONG_TITLE:
            reasons.append(f"title is {len(title.split())} words: an OCR sentence, not a title")
    for name, said in (("document_type", "type"), ("document_number", "document number"),
                       ("date", "date"), ("issuer", "issuer")):
        if machine(name) and not described.get(name):
            why = str(sources.get(name, ""))
            reasons.append(f"no {said} was read: {why.removeprefix('unread: ')}"
                           if why.startswith("unread: ") else f"no {said} was read")
    for name, said in (("title", "title"), ("document_type", "type"),
                       ("document_number", "document number"), ("date", "date"),
                       ("issuer", "issuer")):
        why = str(sources.get(name, ""))
        if machine(name) and described.get(name) and why.startswith(UNSURE):
            reasons.append(f"{said} may be misread: {why.removeprefix(UNSURE)}")
    if machine("date") and _implausible(str(described.get("date") or ""), record):
        reasons.append(f"date {described['date']} cannot be right (before 1900 or after the "
                       "record was archived)")
    return reasons


def _implausible(value: str, record: dict[str, Any]) -> bool:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False  # no date: said above
    stored = [str(e.get("time", ""))[:10] for e in record.get("provenance") or []
              if isinstance(e, dict) and e.get("type") == "stored"]
    try:
        latest = date.fromisoformat(stored[-1]) if stored else date.today()
    except ValueError:
        latest = date.today()
    return not EARLIEST <= day <= latest


def _low_confidence(technical: dict[str, Any]) -> list[str]:
    pages = technical.get("pages")
    if isinstance(pages, list):
        low = [str(number) for number, page in enumerate(pages, start=1)
               if isinstance(page, dict) and _unsure(page)]
        if low:
            return [f"low OCR confidence on page{'s' if len(low) > 1 else ''} {', '.join(low)}"]
        return []
    return ["low OCR confidence"] if technical.get("needs_review") else []


def _unsure(page: dict[str, Any]) -> bool:
    """A page recognised with little confidence (one whose text came with the PDF was not
    recognised: its confidence is None, and it is not second-guessed)."""
    confidence = page.get("mean_confidence")
    if isinstance(confidence, int | float):
        return confidence < UNSURE_PAGE
    return bool(page.get("low_confidence"))
