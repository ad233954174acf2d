"""The fixity audit: every record against its object and the archive's signed log, and the
archive as a whole against the log: nothing missing, nothing added, nothing unreadable.

``records verify --all`` checks everything now; the scheduled flow checks the log and a
nightly sample, taking the records whose last check is oldest first, so the whole archive is
covered in turn without reading all of it every night. Each record's outcome is written to the
checks log. A record that cannot even be read is a named failure, never the end of the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import x509

from archive.index import Catalog
from archive.signing.heads import LogState, read_log
from archive.signing.verify import Check, Verdict, verify_record
from archive.store import (
    STAGING,
    Event,
    UnknownRecord,
    append_check,
    home_of,
    is_record_id,
    read_checks,
    record_ids,
    record_paths,
    recover,
)

STALE_STAGING = 24 * 3600  # as archive.store recovers it: no commit takes a day

# What records' storage root holds besides its objects (OCFL 1.1, section 4.1), and the folder
# a file system puts at the root of a volume mounted there.
ROOT_FILES = {"0=ocfl_1.1", "ocfl_layout.json", "extensions", "lost+found"}


@dataclass
class ArchiveVerdict:
    """The log as a whole, and every record: ``ok`` only when all of it is."""

    log: dict[str, Check]
    records: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.log.values()) and all(v.ok for v in self.records)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok,
                "log": {n: {"ok": c.ok, "detail": c.detail} for n, c in self.log.items()},
                "records": [v.as_dict() for v in self.records]}


def check_fixity(archive: Path, ids: list[str], roots: list[x509.Certificate],
                 seals: list[x509.Certificate], event_type: str = "verified",
                 catalog: Catalog | None = None, log: LogState | None = None) -> list[Verdict]:
    """Verify each record (against ``log``, read now when not given) and write the outcome to
    the checks log (and, given a catalog, to its verifications, which the roadmap counts)."""
    home = home_of(archive)
    recover(archive, clear_staging=False)  # what a crash left in staging is reported
    state = log or read_log(home, roots, seals, all_signatures=False)
    verdicts = []
    for record_id in ids:
        try:
            folder = record_paths(archive, record_id).folder
        except UnknownRecord as exc:  # not an id: nothing to read, nothing to log
            verdicts.append(Verdict(exc.record_id, archive,
                                    {"object": Check(False, f"{exc.reason}: not a record id")}))
            continue
        verdict = _verified(folder, roots, state)
        if folder.is_dir():
            detail = "all checks passed" if verdict.ok else "; ".join(verdict.failures())
            event = Event(event_type, "success" if verdict.ok else "failure", detail)
            append_check(home, record_id, event)
            if catalog is not None and catalog.get(record_id) is not None:
                catalog.add_check(record_id, event.time, verdict.ok)
        verdicts.append(verdict)
    return verdicts


def _verified(folder: Path, roots: list[x509.Certificate], state: LogState) -> Verdict:
    try:
        return verify_record(folder, roots, state.record_check)
    except Exception as exc:  # a record broken in a way no check foresaw: say so, go on
        return Verdict(folder.name, folder, {"object": Check(
            False, f"the record cannot be read: {type(exc).__name__}: {exc}"[:300])})


def verify_archive(archive: Path, roots: list[x509.Certificate],
                   seals: list[x509.Certificate], catalog: Catalog | None = None,
                   sample: int | None = None, event_type: str = "verified") -> ArchiveVerdict:
    """The log, then every record the log or the archive holds (or a ``sample`` of those due
    for a check), then whatever else lies in the storage root."""
    home = home_of(archive)
    recover(archive, clear_staging=False)  # what a crash left in staging is reported
    state = read_log(home, roots, seals)
    logged = set(state.contents.latest())
    on_disk = set(record_ids(archive))
    everything = sorted(logged | on_disk)
    wanted = due_for_check(archive, sample, everything) if sample else everything
    verdict = ArchiveVerdict(dict(state.checks))
    verdict.records = check_fixity(archive, wanted, roots, seals, event_type, catalog, state)
    verdict.records += [Verdict(name, archive / name, {"object": Check(False, why)})
                        for name, why in stray(archive, on_disk | logged)]
    if catalog is not None:  # a record deleted together with its leaves is still catalogued
        verdict.records += [Verdict(record_id, archive / record_id, {"log": Check(
            False, "catalogued, but neither the log nor the archive holds it: the record was "
                   "deleted together with its log entries")})
                            for record_id in sorted(catalog.ids() - logged - on_disk)]
    return verdict


def stray(archive: Path, objects: set[str]) -> list[tuple[str, str]]:
    """What lies in the storage root that is neither a record's object nor the root's own
    files: added behind records' back, or left by a commit a crash interrupted a day or more
    ago (a copy of a record, perhaps a classified one, outside every check)."""
    if not archive.is_dir():
        return []
    found = []
    for entry in sorted(archive.iterdir()):
        if entry.name in ROOT_FILES or entry.name in objects:
            continue
        kind = "a folder" if entry.is_dir() and not entry.is_symlink() else "a file"
        why = "not a record's OCFL object" if is_record_id(entry.name) else "not a record"
        found.append((entry.name, f"{kind} in the archive that is {why}"))
    extensions = archive / "extensions"
    for entry in sorted(extensions.iterdir()) if extensions.is_dir() else []:
        name = f"extensions/{entry.name}"
        if entry.name != STAGING or entry.is_symlink() or not entry.is_dir():
            found.append((name, "not an extension records keeps"))
            continue
        for leftover in sorted(entry.iterdir()):
            if time.time() - leftover.lstat().st_mtime > STALE_STAGING:
                found.append((f"{name}/{leftover.name}", "left in staging by an interrupted "
                              "commit a day or more ago (the next batch removes it)"))
    return found


def due_for_check(archive: Path, count: int, among: list[str] | None = None) -> list[str]:
    """The ``count`` records checked longest ago (never-checked ones first)."""
    checks = read_checks(home_of(archive))

    def last_check(record_id: str) -> str:
        times = [e["time"] for e in checks.get(record_id, [])
                 if e.get("type") in ("fixity", "verified")]
        return max(times, default="")

    candidates = among if among is not None else record_ids(archive)
    return sorted(candidates, key=lambda r: (last_check(r), r))[:count]
