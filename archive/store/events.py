"""Events that happen to a record after it was committed (fixity checks, verifications, renewals).

A committed package is write-once, so later events go to an append-only, hash-chained log
beside the archive, ``archive/.events/<record id>.jsonl`` (see ``archive.store.chain``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from archive.store.chain import ChainedLog
from archive.store.layout import events_path
from archive.store.record import Event


def _log(archive: Path, record_id: str) -> ChainedLog:
    return ChainedLog(events_path(archive, record_id))


def append_event(archive: Path, record_id: str, event: Event) -> None:
    _log(archive, record_id).append(asdict(event))


def read_events(archive: Path, record_id: str) -> list[dict[str, Any]]:
    return _log(archive, record_id).read()


def check_events(archive: Path, record_id: str) -> list[str]:
    """Where the record's log is broken (empty: every line follows the one before)."""
    return _log(archive, record_id).check()[0]
