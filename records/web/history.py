"""A record's versions as its readers see them: who made each, when, why, what changed, and
the description each one gives.

Every correction is a version of the record's object (``archive.review``); the first is what
was archived. A version made while the record was classified above the reader's clearance
(corrected while secret, then declassified) is listed without its who, why and values, and
cannot be opened or compared: a description a person wrote for secret eyes stays theirs. The
first version is the exception: the signed PDF, which the reader may open, carries it anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archive.access import User
from archive.store import (
    Correction,
    Descriptive,
    RecordPaths,
    current_descriptive,
    descriptive_from,
    level_of,
    read_corrections,
)

VERSION = re.compile(r"v[1-9][0-9]{0,5}")  # what a URL may name: OCFL's v1, v2... and no more


@dataclass(frozen=True)
class VersionEntry:
    """One version of a record, as a line of its history."""

    version: str
    created: str
    message: str
    classification: str  # the record's classification in this version
    hidden: bool = False  # made while above the reader's clearance: who, why, what not shown
    by: str = ""
    why: str = ""
    approved_by: str = ""
    proposed_by: str = ""  # a declassification's first person (``by`` approved it)
    fields: list[str] = field(default_factory=list)


def number(version: str) -> int:
    """A version's number ("v12" -> 12), for ordering: "v10" comes after "v9"."""
    return int(version[1:])


def history(paths: RecordPaths, record: dict[str, Any], user: User) -> list[VersionEntry]:
    """Every version of the record, oldest first, as ``user`` may see it."""
    acts = {act.version: act for act in read_corrections(paths)}
    level = descriptive_from(record).classification
    versions: dict[str, dict[str, Any]] = paths.inventory.data["versions"]
    entries = []
    for name in sorted(versions, key=number):
        act = acts.get(name)
        if act and "classification" in act.changes:
            level = str(act.changes["classification"].after)
        entries.append(_entry(name, versions[name], level, act,
                              hidden=number(name) > 1 and level_of(level) > user.clearance))
    return entries


def _entry(name: str, meta: dict[str, Any], level: str, act: Correction | None,
           hidden: bool) -> VersionEntry:
    # A hidden version's message says who changed which fields while the record was above
    # the reader's clearance: not theirs to read either.
    entry = VersionEntry(name, str(meta.get("created", "")),
                         "" if hidden else str(meta.get("message", "")), level, hidden)
    if act is None or hidden:
        return entry
    return VersionEntry(name, entry.created, entry.message, level, by=act.by, why=act.why,
                        approved_by=act.approved_by, proposed_by=act.proposed_by,
                        fields=sorted(act.changes))


def visible_acts(entries: list[VersionEntry], acts: list[Correction]) -> list[Correction]:
    """The corrections among ``acts`` whose versions ``entries`` (a history) shows."""
    shown = {e.version for e in entries if not e.hidden}
    return [act for act in acts if act.version in shown]


def shown_version(entries: list[VersionEntry], text: str) -> str | None:
    """The version a URL names (``v3``), if the record has it and the reader may open it;
    None otherwise (a 404: "v03", "3", "v0" and "v3 " are not versions)."""
    if not VERSION.fullmatch(text):
        return None
    return next((e.version for e in entries if e.version == text and not e.hidden), None)


def description_at(paths: RecordPaths, version: str) -> Descriptive:
    """The description ``version`` gives: the sidecar, corrected as that version says."""
    return current_descriptive(paths, version=version)
