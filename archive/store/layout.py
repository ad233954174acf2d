"""Where everything lies: the one place that turns a home, or a record id, into paths.

``RECORDS_HOME/archive`` is an OCFL 1.1 storage root: each record is an object named by its id
(``archive.store.objects``), whose current version holds ``<record id>.pdf`` (the signed
PDF/A), ``originals/``, ``pages/``, ``record.json`` (the sidecar) and, once it has changed,
``renewals.json`` and ``events.jsonl``. ``RECORDS_HOME/log`` is the archive's signed log (one
leaf per record version, ``archive.store.archivelog``) with the hash-chained log of
verifications (``checks.jsonl``); ``RECORDS_HOME/work`` is records' own bookkeeping (id
counters, reservations, commit intents), which proves nothing and is never evidence. Objects
are built in the storage root's local extension folder ``extensions/records-staging``, on the
archive's own file system, so that a rename puts them in place. Every path into the
archive is built from a checked id (``archive.store.ids``): a name that is not an id, such as
``../x``, never becomes a path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from archive.store.ids import is_record_id
from archive.store.objects import INVENTORY, Inventory, ObjectDamaged, read_inventory
from config.errors import UsageError

SIDECAR = "record.json"
RENEWALS = "renewals.json"
EVENTS = "events.jsonl"


class UnknownRecord(UsageError):
    """No committed record has this id (or it is not an id at all)."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"no record {record_id}")
        self.record_id = record_id

    def __reduce__(self) -> tuple[type[UnknownRecord], tuple[str]]:
        return type(self), (self.record_id,)


def archive_root(home: Path) -> Path:
    """The archive folder of a RECORDS_HOME: an OCFL storage root."""
    return home / "archive"


def home_of(archive: Path) -> Path:
    """The RECORDS_HOME an archive folder belongs to (:func:`archive_root` inverted)."""
    return archive.parent


def log_dir(home: Path) -> Path:
    """The archive's signed log: leaves, signed tree heads, consistency proofs, checks."""
    return home / "log"


def work_dir(home: Path) -> Path:
    """records' bookkeeping beside the archive: id counters, reservations, commit intents."""
    return home / "work"


def audit_log_path(home: Path) -> Path:
    """Who searched, read, downloaded and verified what (``archive.access.AuditLog``)."""
    return home / "audit" / "audit.jsonl"


def checks_log_path(home: Path) -> Path:
    """Every verification and fixity check of a record after it was committed."""
    return log_dir(home) / "checks.jsonl"


def chained_logs(home: Path) -> dict[str, Path]:
    """The hash-chained logs whose length and last hash every signed tree head records."""
    return {"audit": audit_log_path(home), "checks": checks_log_path(home)}


@dataclass(frozen=True)
class RecordPaths:
    """The files of one record: an OCFL object in ``folder``, read through its inventory."""

    folder: Path
    record_id: str

    @property
    def committed(self) -> bool:
        return (self.folder / INVENTORY).is_file()

    @cached_property
    def inventory(self) -> Inventory:
        return read_inventory(self.folder)

    def file(self, logical: str, version: str | None = None) -> Path | None:
        """The file the current version (or ``version``, "v1"...) calls ``logical`` (None: it
        has none); :class:`ObjectDamaged` when the inventory cannot say."""
        try:
            content = self.inventory.content_path(logical, version)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            raise ObjectDamaged(f"{self.folder.name}/{INVENTORY} is not an OCFL inventory "
                                f"({type(exc).__name__})") from None
        if content is not None and not isinstance(content, str):
            raise ObjectDamaged(f"{self.folder.name}/{INVENTORY} is not an OCFL inventory")
        return self.folder / content if content else None

    @property
    def pdf(self) -> Path:
        return self._required(f"{self.record_id}.pdf")

    @property
    def sidecar(self) -> Path:
        return self._required(SIDECAR)

    @property
    def renewals(self) -> Path | None:
        return self.file(RENEWALS)

    @property
    def events(self) -> Path | None:
        return self.file(EVENTS)

    def _required(self, logical: str) -> Path:
        # A path that is not there when the inventory does not name it: the caller's own
        # check of the file then reports it missing, as for a file deleted from disk.
        return self.file(logical) or self.folder / self.inventory.head / "content" / logical

    def read_sidecar(self) -> dict[str, Any]:
        return json.loads(self.sidecar.read_text(encoding="utf-8"))


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
    """A record object's current ``record.json``."""
    return RecordPaths(folder, folder.name).read_sidecar()
