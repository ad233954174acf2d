"""Where a record lies: the one place that turns a record id into paths.

``RECORDS_HOME/archive/<record id>/`` holds a committed record: ``<record id>.pdf`` (the signed
PDF/A), ``originals/``, ``pages/``, ``record.json`` (the sidecar), ``renewals.json`` (B-LTA
renewals) and ``manifest-sha256.txt``. Later events go to ``archive/.events/<record id>.jsonl``.
Every path is built from a checked id (``archive.store.ids``): a name that is not an id, such
as ``../x``, never becomes a path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.store.ids import is_record_id
from config.errors import UsageError

SIDECAR = "record.json"
MANIFEST = "manifest-sha256.txt"
RENEWALS = "renewals.json"


class UnknownRecord(UsageError):
    """No committed record has this id (or it is not an id at all)."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"no record {record_id}")
        self.record_id = record_id

    def __reduce__(self) -> tuple[type[UnknownRecord], tuple[str]]:
        return type(self), (self.record_id,)


def archive_root(home: Path) -> Path:
    """The archive folder of a RECORDS_HOME."""
    return home / "archive"


@dataclass(frozen=True)
class RecordPaths:
    """The files of one record, committed or staged (``folder`` is named for its id)."""

    folder: Path
    record_id: str

    @property
    def pdf(self) -> Path:
        return self.folder / f"{self.record_id}.pdf"

    @property
    def sidecar(self) -> Path:
        return self.folder / SIDECAR

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST

    @property
    def renewals(self) -> Path:
        return self.folder / RENEWALS

    @property
    def committed(self) -> bool:
        return self.sidecar.is_file()

    def read_sidecar(self) -> dict[str, Any]:
        return read_sidecar(self.folder)


def record_paths(archive: Path, record_id: str) -> RecordPaths:
    """The paths of a record; :class:`UnknownRecord` if ``record_id`` is not an id."""
    if not is_record_id(record_id):
        raise UnknownRecord(record_id[:64])
    return RecordPaths(archive / record_id, record_id)


def committed_record(archive: Path, record_id: str) -> RecordPaths:
    """The paths of a committed record; :class:`UnknownRecord` if there is none."""
    paths = record_paths(archive, record_id)
    if not paths.committed:
        raise UnknownRecord(record_id)
    return paths


def read_sidecar(folder: Path) -> dict[str, Any]:
    """A record folder's ``record.json``."""
    return json.loads((folder / SIDECAR).read_text(encoding="utf-8"))


def events_path(archive: Path, record_id: str) -> Path:
    """The append-only log of what happened to a record after it was committed;
    :class:`UnknownRecord` if ``record_id`` is not an id."""
    if not is_record_id(record_id):
        raise UnknownRecord(record_id[:64])
    return archive / ".events" / f"{record_id}.jsonl"
