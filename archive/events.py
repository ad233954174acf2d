"""Events that happen to a record after it was committed (fixity checks, verifications, renewals).

A committed package is write-once, so later events go to an append-only, hash-chained log
beside the archive, ``archive/.events/<record id>.jsonl`` (see ``archive.chain``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from archive import chain
from archive.metadata import Event


def log_path(archive: Path, record_id: str) -> Path:
    return archive / ".events" / f"{record_id}.jsonl"


def append(archive: Path, record_id: str, event: Event) -> None:
    chain.append(log_path(archive, record_id), asdict(event))


def read(archive: Path, record_id: str) -> list[dict[str, Any]]:
    return chain.read(log_path(archive, record_id))


def check_chain(archive: Path, record_id: str) -> list[str]:
    """Where the record's log is broken (empty: every line follows the one before)."""
    return chain.check(log_path(archive, record_id))[0]
