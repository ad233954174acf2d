"""A record's descriptive metadata, merged from what people said and what the page says.

Descriptive fields come from three places, in this order of authority: the records officer's
manifest, what the text of the document itself says (``archive.intake.extract``), and the
batch's defaults. Each field records where its value came from. The classification is the
exception: it is the stricter of the manifest's and the batch's, so that neither a row nor a
batch option can lower what the other asked for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from archive.index import UNSURE
from archive.intake.extract import Extracted
from archive.store import Descriptive, stricter


def describe_record(given: dict[str, str], defaults: dict[str, str], extracted: Extracted,
             fallback_title: str) -> Descriptive:
    """Merge manifest values (``given``), extracted values and defaults, recording sources."""
    found = {"title": extracted.title, "document_type": extracted.document_type,
             "document_number": extracted.document_number, "issuer": extracted.issuer,
             "date": extracted.document_date}
    unsure = {"date" if name == "document_date" else name for name in extracted.unsure}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    given = {**given, "date": _iso_date(given.get("date", ""))}
    for name in ("title", "unit", "series", "classification", "date", "language",
                 "document_type", "document_number", "issuer"):
        if given.get(name):
            values[name], sources[name] = given[name], "manifest"
        elif found.get(name):
            note = extracted.notes.get(name)
            values[name], sources[name] = found[name], f"extracted: {note}" if note else \
                "extracted"
            if name in unsure:  # a best reading, kept for a person to confirm
                sources[name] = f"{UNSURE}{note or 'the machine is not sure of it'}"
        elif defaults.get(name):
            values[name], sources[name] = defaults[name], "default"
        elif extracted.notes.get(name):  # not read: why, for the person who reviews it
            sources[name] = f"unread: {extracted.notes[name]}"
    batch_level = defaults.get("classification")
    if sources.get("classification") == "manifest" and batch_level and \
            stricter(batch_level, values["classification"]) != values["classification"]:
        # The manifest may raise a record above the batch's classification, never lower it.
        values["classification"] = batch_level
        sources["classification"] = "default"
    if "title" not in values:
        values["title"], sources["title"] = fallback_title, "default"
    subjects = [s.strip() for s in given.get("subjects", "").split(";") if s.strip()]
    if subjects:
        sources["subjects"] = "manifest"
    return Descriptive(**values, subjects=subjects, sources=sources)


def given_fields(given: dict[str, str]) -> frozenset[str]:
    """The fields of ``Extracted`` a manifest's values fill (and so win over whatever is
    read): the ones not worth a second reading."""
    names = {"title": "title", "document_type": "document_type", "issuer": "issuer",
             "document_number": "document_number", "date": "document_date"}
    return frozenset(names[name] for name, value in given.items() if name in names and
                     (_iso_date(value) if name == "date" else value))


def _iso_date(value: str) -> str:
    """The date if it is a real ISO date (2024-05-31), else "" so the next source is used."""
    try:
        return date.fromisoformat(value.strip()).isoformat() if value.strip() else ""
    except ValueError:
        return ""
