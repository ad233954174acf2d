"""What people corrected in a record's description, kept beside what the machine read.

The sidecar (``record.json``) says what was known when the record was archived, and its
signed PDF carries that in its XMP: neither ever changes. A correction is a new version of
the record's object holding ``corrections.json``, every correction made so far, oldest first,
each with who made it, when, why and each field's value before and after. A record's
*current* description is the sidecar's with the corrections applied in order; search, facets,
the roadmap and exports read that one. Any earlier version reads as it was: its own
``corrections.json`` (or none) over the same sidecar.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from archive.store.classification import level_of
from archive.store.layout import RecordPaths
from archive.store.objects import ObjectDamaged
from archive.store.record import Descriptive, descriptive_from

CORRECTIONS = "corrections.json"
EDITABLE = ("title", "date", "document_number", "document_type", "issuer", "series",
            "subjects", "language", "classification")
"""The descriptive fields a person may correct. The unit is not among them: it decides whose
records these are (who may see and correct them) and the record's id, so a record filed
under the wrong unit is a matter for its officers, not an edit."""


def corrected_copy_name(record_id: str) -> str:
    """The signed PDF/A a correction makes that carries the corrected description and text
    (``archive.signing.derive``); the archival copy, ``<id>.pdf``, never changes."""
    return f"{record_id}.corrected.pdf"


@dataclass(frozen=True)
class Change:
    """One field's value before and after a correction."""

    before: str | list[str]
    after: str | list[str]


@dataclass(frozen=True)
class Correction:
    """One act of correcting a record: the version it made, who, when, why, what changed.

    ``words`` are the page words corrected: page number -> ALTO word id -> its text before
    and after (``archive.store.pagetext``). ``approved_by`` names the second person of a
    two-person act (a lowered classification), ``proposed_by`` the first; an act with no
    changes records that a person reviewed the record and found nothing to correct."""

    version: str
    time: str
    by: str
    why: str
    changes: dict[str, Change] = field(default_factory=dict)
    approved_by: str = ""
    words: dict[str, dict[str, Change]] = field(default_factory=dict)
    proposed_by: str = ""  # who proposed a declassification ``approved_by`` approved
    copy: dict[str, Any] = field(default_factory=dict)
    """The signed corrected copy this version holds (``archive.signing.derive``): its file
    name and what signing it recorded, as the sidecar records the archival copy's. Empty
    when the act made none (a review with nothing to correct, or signing is off)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Correction:
        changes = {name: Change(**change) for name, change in data["changes"].items()}
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValueError(f"fields that cannot be corrected: {', '.join(sorted(unknown))}")
        words = {str(page): {str(w): Change(**c) for w, c in changed.items()}
                 for page, changed in data.get("words", {}).items()}
        return cls(version=str(data["version"]), time=str(data["time"]), by=str(data["by"]),
                   why=str(data["why"]), changes=changes,
                   approved_by=str(data.get("approved_by", "")), words=words,
                   proposed_by=str(data.get("proposed_by", "")),
                   copy=dict(data.get("copy") or {}))


def read_corrections(paths: RecordPaths, version: str | None = None) -> list[Correction]:
    """The corrections a version of the record holds (the current one by default), oldest
    first; :class:`ObjectDamaged` when the file is there but unreadable: a description that
    cannot be read is never guessed (it may have raised the classification)."""
    file = paths.file(CORRECTIONS, version)
    if file is None:
        return []
    try:
        data = file.read_bytes()
        # The inventory's digest first: reindexing reads this file without a full check, and
        # a file edited on disk could otherwise lower a classification in the catalog.
        if hashlib.sha512(data).hexdigest() != paths.inventory.state(version)[CORRECTIONS]:
            raise ValueError("not the file its inventory names")
        return [Correction.from_dict(entry) for entry in json.loads(data)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ObjectDamaged(f"{paths.record_id}: {CORRECTIONS} cannot be read "
                            f"({type(exc).__name__})") from None


def corrected(descriptive: Descriptive, corrections: list[Correction]) -> Descriptive:
    """``descriptive`` with ``corrections`` applied in order, each field's source naming who
    corrected it and when."""
    current = descriptive
    for correction in corrections:
        values: dict[str, Any] = {name: change.after
                                  for name, change in correction.changes.items()}
        sources = {**current.sources, **{
            name: f"corrected by {correction.by}, {correction.time[:10]}" for name in values}}
        current = replace(current, **values, sources=sources)
    return current


def replayed(descriptive: Descriptive, corrections: list[Correction],
             record_id: str) -> Descriptive:
    """:func:`corrected`, each act checked against the description it changed: every
    value it says was there before was there, and a lowered classification has a second
    person's approval. :class:`ObjectDamaged` otherwise: a history that does not add up
    was not made by records, and is never believed."""
    current = descriptive
    for act in corrections:
        for name, change in act.changes.items():
            if getattr(current, name) != change.before:
                raise ObjectDamaged(f"{record_id}: {CORRECTIONS} says {name} was "
                                    f"{change.before!r} before {act.version}, and it was not")
        lowered = act.changes.get("classification")
        if lowered is not None and level_of(str(lowered.after)) < level_of(str(lowered.before)) \
                and not (act.approved_by and act.proposed_by and
                         _person(act.approved_by) != _person(act.proposed_by)):
            raise ObjectDamaged(f"{record_id}: {act.version} lowers the classification "
                                "without a second person's approval")
        current = corrected(current, [act])
    return current


def _person(name: str) -> str:
    return name.removeprefix("cli:")


def current_descriptive(paths: RecordPaths, record: dict[str, Any] | None = None,
                        version: str | None = None) -> Descriptive:
    """The description of a version of the record (the current one by default): its
    sidecar's, corrected. ``record`` is the sidecar already read, if it was."""
    record = record if record is not None else json.loads(
        (paths.file("record.json", version) or paths.sidecar).read_text(encoding="utf-8"))
    return replayed(descriptive_from(record), read_corrections(paths, version),
                    paths.record_id)


def differences(before: Descriptive, after: Descriptive) -> dict[str, Change]:
    """The editable fields whose value differs between two descriptions."""
    return {f.name: Change(getattr(before, f.name), getattr(after, f.name))
            for f in fields(Descriptive)
            if f.name in EDITABLE and getattr(before, f.name) != getattr(after, f.name)}
