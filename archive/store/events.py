"""What happened to a record after it was committed.

Events that change a record (a renewal; later, a correction) go into the new version they
make: the object's ``events.jsonl``, covered by its inventory like every other file.
Verifications and fixity checks change nothing, so they are not versions: they go to the
archive's checks log (``log/checks.jsonl``), one hash-chained line per check, whose length and
last hash every signed tree head records.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from archive.store.chain import ChainedLog
from archive.store.layout import RecordPaths, checks_log_path
from archive.store.record import Event


def append_check(home: Path, record_id: str, event: Event) -> None:
    """Log one verification or fixity check of a record."""
    ChainedLog(checks_log_path(home)).append({"record_id": record_id, **asdict(event)})


def read_checks(home: Path) -> dict[str, list[dict[str, Any]]]:
    """Every check logged, by record id, oldest first (one read of the whole log)."""
    checks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in ChainedLog(checks_log_path(home)).read():
        checks[str(entry.get("record_id"))].append(entry)
    return dict(checks)


def record_events(paths: RecordPaths) -> list[dict[str, Any]]:
    """The events the record's current version carries (renewals; for a record migrated from
    the first layout, its earlier later-events log as it was)."""
    events = paths.events
    return ChainedLog(events).read() if events else []


def with_event(paths: RecordPaths, event: Event, staged: Path) -> bytes:
    """The record's ``events.jsonl`` with ``event`` appended (chained), built in ``staged``
    (a scratch file): the bytes a new version carries."""
    current = paths.events
    staged.write_bytes(current.read_bytes() if current else b"")
    ChainedLog(staged).append(asdict(event))
    return staged.read_bytes()
