"""Events that happen to a record after it was committed (fixity checks, verifications, renewals).

A committed package is write-once, so later events go to an append-only log beside the
archive, ``archive/.events/<record id>.jsonl``: one JSON object per line, each carrying the
SHA-256 of the line before it. Deleting, inserting or editing a line breaks the chain, which
:func:`check_chain` reports.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from archive.metadata import Event

GENESIS = "0" * 64


def log_path(archive: Path, record_id: str) -> Path:
    return archive / ".events" / f"{record_id}.jsonl"


def append(archive: Path, record_id: str, event: Event) -> None:
    """Add one event at the end of the record's log, chained to the last line."""
    path = log_path(archive, record_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        lines = handle.read().splitlines()
        previous = hashlib.sha256(lines[-1]).hexdigest() if lines else GENESIS
        line = json.dumps({**asdict(event), "previous": previous}, ensure_ascii=False,
                          sort_keys=True).encode()
        handle.write(line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def read(archive: Path, record_id: str) -> list[dict[str, Any]]:
    path = log_path(archive, record_id)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def check_chain(archive: Path, record_id: str) -> list[str]:
    """Where the log's chain is broken (empty: every line follows the one before)."""
    path = log_path(archive, record_id)
    if not path.is_file():
        return []
    problems, previous = [], GENESIS
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            claimed = json.loads(line).get("previous")
        except ValueError:
            claimed = None
        if claimed != previous:
            problems.append(f"line {number} does not follow line {number - 1}")
        previous = hashlib.sha256(line).hexdigest()
    return problems
