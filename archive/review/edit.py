"""Correcting a record's description: checked, made a new version, vouched for, audited.

A correction never touches what was archived: the signed PDF and its sidecar stay as they
are in every version, and the correction is a new version of the record's object that adds
it to ``corrections.json`` and a ``corrected`` event to ``events.jsonl``. Its version is
entered in the archive's log with the organisation's seal like every other (``vouch``), so
``records verify`` proves the whole history. The catalog is then told, so search, facets and
the roadmap use the corrected description.

Fail closed: a raised classification reaches the catalog before the archive (a crash between
the two leaves the record stricter, never looser); a lowered one is not a correction at all
but a declassification, which needs a second person (``archive.review.declassify``).
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from archive.access import AccessError, AuditLog, User, units_of
from archive.index import Catalog, index_package
from archive.signing import Sealer, corrected_altos, make_corrected_copy
from archive.store import (
    CORRECTIONS,
    EDITABLE,
    EVENTS,
    LEVELS,
    Change,
    Correction,
    Descriptive,
    Event,
    RecordPaths,
    UnknownRecord,
    Vouch,
    archive_root,
    committed_record,
    contents,
    corrected,
    descriptive_from,
    differences,
    home_of,
    level_of,
    new_version,
    now,
    page_file,
    read_alto,
    read_corrections,
    record_lock,
    replayed,
    text_of,
    with_event,
    with_words,
    work_dir,
)
from config.errors import UsageError

CORRECTORS = ("officer", "archivist", "admin")
"""Roles that may correct a description. Managers read the roadmap; they do not describe."""
MAX_TEXT = 500
MAX_SUBJECTS = 50
MAX_WORD = 100  # a corrected word may become a few ("ofthe" -> "of the"), not a paragraph
_LANGUAGE = re.compile(r"[a-z]{3}(?:_[a-z]+)?(?:\+[a-z]{3}(?:_[a-z]+)?)*")


class CorrectionRefused(UsageError):
    """A correction that cannot be made as asked: the reason says what to change."""


@dataclass(frozen=True)
class Corrected:
    """What a correction made: the act as recorded, and the record's description now."""

    correction: Correction
    descriptive: Descriptive


def editable_record(catalog: Catalog, user: User, record_id: str) -> dict[str, Any]:
    """The catalog row of a record ``user`` may correct; :class:`UnknownRecord` when it is
    above their clearance (as for a record that does not exist: its existence is not theirs
    to learn), :class:`AccessError` when their role or units do not let them."""
    row = catalog.get(record_id)
    if row is None or row["level"] > user.clearance:
        raise UnknownRecord(record_id[:64])
    if user.role not in CORRECTORS:
        raise AccessError(f"a {user.role} may not correct records")
    if user.role == "officer" and row["unit"] not in units_of(catalog, user.name):
        raise AccessError(f"{record_id} belongs to unit {row['unit']}, "
                          "which is not one of yours")
    return row


def correct_record(home: Path, catalog: Catalog, user: User, record_id: str,
                   edits: dict[str, Any], why: str, *, vouch: Vouch | None,
                   seen_version: str | None = None, approved_by: str = "",
                   words: dict[int, dict[str, str]] | None = None,
                   proposal: tuple[str, str] | None = None,
                   sealer: Sealer | None = None) -> Corrected:
    """Correct the fields ``edits`` names (to the values it gives), and the page words
    ``words`` names (page number -> ALTO word id -> its text), as ``user``, for the reason
    ``why``; return what was made.

    ``seen_version`` is the version the person was shown ("v3"): if the record changed
    since, nothing is made and they are asked to look again. ``approved_by`` and
    ``proposal`` (who proposed, and the classification they proposed to lower) are for
    :mod:`archive.review.declassify` alone, which has checked the second person; the record
    must still be at that classification when the lock is held.
    An empty ``edits`` records that the person reviewed the record and found nothing wrong.

    With ``sealer`` (signing is on), a correction also makes a signed PDF/A that carries the
    corrected description and words (``archive.signing.derive``); the archival copy stays.
    Its version is vouched for with the sealer's key unless ``vouch`` is given.
    """
    vouch = vouch or (sealer.vouch() if sealer else None)
    editable_record(catalog, user, record_id)
    reason = clean_text("the reason", why, required=True)
    archive = archive_root(home)
    with record_lock(archive, record_id):
        paths = committed_record(archive, record_id)
        head = paths.inventory.head
        if seen_version and seen_version != head:
            raise CorrectionRefused(f"{record_id} changed since you opened it ({seen_version} "
                                    f"then, {head} now): open it again and redo the change")
        record = paths.read_sidecar()
        acts = read_corrections(paths)
        current = replayed(descriptive_from(record), acts, record_id)
        # The archive's word, under the lock: the catalog was read before it, and a raise
        # committed meanwhile must stop anyone it puts the record out of reach of.
        if level_of(current.classification) > user.clearance:
            raise UnknownRecord(record_id[:64])
        if proposal and current.classification != proposal[1]:
            raise CorrectionRefused(f"{record_id} is {current.classification} now, not "
                                    f"{proposal[1]} as proposed: refuse this proposal and "
                                    "propose again")
        proposed = replace(current, **clean_edits(edits))
        changes = differences(current, proposed)
        _check_classification(changes, approved_by)
        word_changes, page_files = _page_corrections(paths, words or {})
        if (edits or words) and not (changes or word_changes):
            raise CorrectionRefused("nothing to correct: every value is as it was")
        copy = make_corrected_copy(paths, proposed, corrected_altos(paths, page_files),
                                   sealer) if sealer and (changes or word_changes) else None
        if copy is not None:
            page_files[copy.name] = copy.data
        act = Correction(version=f"v{int(head[1:]) + 1}", time=now(), by=user.name, why=reason,
                         changes=changes, approved_by=approved_by, words=word_changes,
                         proposed_by=proposal[0] if proposal else "",
                         copy={"file": copy.name, **copy.signature} if copy else {})
        if "classification" in changes and level_of(proposed.classification) > \
                level_of(current.classification):
            catalog.restrict(record_id, proposed.classification)
        _commit(archive, paths, [*acts, act], vouch, page_files)
        # Under the lock too: a correction catalogued after the next one would put back the
        # catalog's row as it was before that one (a raise undone in the catalog).
        index_package(catalog, paths.folder)
    AuditLog(home).record(user.name, "correct" if changes or word_changes else "review",
                          record_id=record_id, version=act.version, fields=sorted(changes),
                          pages=sorted(word_changes, key=int),
                          why=reason, approved_by=approved_by or None)
    return Corrected(act, corrected(current, [act]))


def _page_corrections(paths: RecordPaths, words: dict[int, dict[str, str]]
                      ) -> tuple[dict[str, dict[str, Change]], dict[str, bytes]]:
    """The words that change on each page (before and after), and the corrected ALTO and
    text of each page that changes, as files of the new version."""
    changed: dict[str, dict[str, Change]] = {}
    files: dict[str, bytes] = {}
    for number, given in sorted(words.items()):
        found = read_alto(paths, number) if isinstance(number, int) and number > 0 else None
        if found is None:
            raise CorrectionRefused(f"page {number} has no words to correct (no ALTO)")
        tree, _ = found
        now_said = contents(tree)
        unknown = sorted(set(given) - set(now_said))
        if unknown:
            raise CorrectionRefused(f"page {number} has no word {unknown[0][:40]!r}")
        after = {w: clean_text(f"word {w}", text, max_length=MAX_WORD)
                 for w, text in given.items()}
        diff = {w: Change(now_said[w], text) for w, text in after.items() if text != now_said[w]}
        if diff:
            changed[str(number)] = diff
            files[page_file(number, "alto.xml", corrected=True)] = with_words(
                tree, {w: str(c.after) for w, c in diff.items()})
            files[page_file(number, "txt", corrected=True)] = text_of(tree).encode("utf-8")
    return changed, files


def _commit(archive: Path, paths: RecordPaths, acts: list[Correction], vouch: Vouch | None,
            page_files: dict[str, bytes]) -> None:
    act = acts[-1]
    parts = sorted(act.changes) + [f"page {n} ({len(w)} words)" for n, w in act.words.items()]
    what = ", ".join(parts) or "reviewed, nothing to correct"
    event = Event("corrected" if parts else "reviewed", "success",
                  f"{what}: {act.why}", agent=act.by)
    scratch_root = work_dir(home_of(archive))
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
        events = with_event(paths, event, Path(scratch) / EVENTS)
    body = json.dumps([a.as_dict() for a in acts], indent=2, ensure_ascii=False).encode()
    new_version(archive, paths.record_id, {CORRECTIONS: body, EVENTS: events, **page_files},
                message=f"{event.type} by {act.by}: {what}", vouch=vouch)


def _check_classification(changes: dict[str, Change], approved_by: str) -> None:
    change = changes.get("classification")
    if change is None or approved_by:
        return
    if level_of(str(change.after)) < level_of(str(change.before)):
        raise CorrectionRefused(
            f"lowering {change.before} to {change.after} is a declassification: a second "
            "person cleared for the record must approve it (propose it with "
            "`records declassify propose`, or on the record's page)")


def clean_edits(edits: dict[str, Any]) -> dict[str, Any]:
    """``edits`` checked field by field and tidied (trimmed, dates ISO, subjects a list);
    :class:`CorrectionRefused` naming the first field that cannot be used."""
    known = {f.name for f in fields(Descriptive)}
    cleaned: dict[str, Any] = {}
    for name, value in edits.items():
        if name not in EDITABLE:
            raise CorrectionRefused(f"{name!r} cannot be corrected"
                                    + (" (the unit decides whose record it is)"
                                       if name == "unit" else "")
                                    + f"; these can: {', '.join(EDITABLE)}"
                                    if name in known or name == "unit" else
                                    f"no field {name!r}; these can be corrected: "
                                    f"{', '.join(EDITABLE)}")
        cleaned[name] = _clean(name, value)
    return cleaned


def _clean(name: str, value: Any) -> Any:
    if name == "subjects":
        items = value.split(";") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise CorrectionRefused("subjects: a list, or text separated by ';'")
        subjects = [clean_text("a subject", str(s)) for s in items if str(s).strip()]
        if len(subjects) > MAX_SUBJECTS:
            raise CorrectionRefused(f"subjects: at most {MAX_SUBJECTS}")
        return subjects
    text = clean_text(name.replace("_", " "), value, required=name == "title")
    if name == "date" and text:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise CorrectionRefused(f"date: {text!r} is not a date (YYYY-MM-DD)") from None
    if name == "classification" and text.lower() not in LEVELS:
        raise CorrectionRefused(f"classification: {text!r} is not one of {', '.join(LEVELS)}")
    if name == "language" and not _LANGUAGE.fullmatch(text):
        raise CorrectionRefused(f"language: {text!r} is not Tesseract's codes (vie, deu+eng)")
    return text.lower() if name == "classification" else text


def clean_text(what: str, value: Any, required: bool = False,
               max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise CorrectionRefused(f"{what}: text expected")
    # One line (no tabs, breaks or runs of spaces), in one Unicode form: a title typed in
    # decomposed form is the same title, not a change.
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if required and not text:
        raise CorrectionRefused(f"{what} cannot be empty")
    if len(text) > max_length:
        raise CorrectionRefused(f"{what}: at most {max_length} characters")
    if not text.isprintable():
        raise CorrectionRefused(f"{what}: control characters are not allowed")
    return text
