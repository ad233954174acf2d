"""The fixity audit: re-hash and re-verify archived copies, and log an event for each.

``records verify --all`` checks everything now; the scheduled flow checks a nightly sample,
taking the records whose last check is oldest first, so the whole archive is covered in turn
without reading all of it every night.
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509

from archive.index import Catalog
from archive.signing.verify import Check, Verdict, verify_record
from archive.store import (
    Event,
    UnknownRecord,
    append_event,
    read_events,
    record_ids,
    record_paths,
    recover,
)


def check_fixity(archive: Path, record_ids: list[str], roots: list[x509.Certificate],
                 event_type: str = "verified", catalog: Catalog | None = None
                 ) -> list[Verdict]:
    """Verify each record and append the outcome to its event log (and, given a catalog,
    to its verifications there, which the roadmap counts)."""
    recover(archive)
    verdicts = []
    for record_id in record_ids:
        try:
            folder = record_paths(archive, record_id).folder
        except UnknownRecord as exc:  # not an id: nothing to read, nothing to log
            verdicts.append(Verdict(exc.record_id, archive,
                                    {"package": Check(False, f"{exc.reason}: not a record id")}))
            continue
        verdict = verify_record(folder, roots)
        if folder.is_dir():
            detail = "all checks passed" if verdict.ok else "; ".join(verdict.failures())
            event = Event(event_type, "success" if verdict.ok else "failure", detail)
            append_event(archive, record_id, event)
            if catalog is not None and catalog.get(record_id) is not None:
                catalog.add_check(record_id, event.time, verdict.ok)
        verdicts.append(verdict)
    return verdicts


def due_for_check(archive: Path, count: int) -> list[str]:
    """The ``count`` records checked longest ago (never-checked ones first)."""
    def last_check(record_id: str) -> str:
        times = [e["time"] for e in read_events(archive, record_id)
                 if e["type"] in ("fixity", "verified")]
        return max(times, default="")

    return sorted(record_ids(archive), key=lambda r: (last_check(r), r))[:count]
