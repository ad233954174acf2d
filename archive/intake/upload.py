"""Batches that arrive over the network: received file by file onto disk, whole or not at all.

A browser sends a batch as a stream of files (a folder picked or dropped, loose files, a zip)
and perhaps a manifest. Each file goes straight to disk in a folder of its own under
``RECORDS_HOME/uploads`` as it arrives, never whole in memory; the folder's name ends in
``.partial`` until the last byte is in, and only then is it renamed to the batch's id and
described in ``uploads/<batch id>.json``. A broken connection, a refused name or a limit
passed leaves no batch behind: the partial folder is removed (or, after a crash, by the next
upload once it is a day old). Nothing in a name or a zip can place a file outside its folder.

The upload's folder then is a batch folder like any other, queued as ``records queue`` queues
one: each of its files is a record, each subfolder a record of pages, and a manifest at its
top describes them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import time
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.intake.manifest import is_manifest_name
from archive.store import now, write_json
from config.errors import UsageError

UPLOADS = "uploads"
PARTIAL = ".partial"
STALE_SECONDS = 24 * 3600  # a partial upload untouched this long was abandoned by a crash
CHUNK = 1 << 20
# What desktops leave in folders and zips; never a record, so never sent to quarantine.
JUNK = frozenset({".ds_store", "thumbs.db", "desktop.ini", "__macosx"})
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 3000  # well below the system's PATH_MAX (4096), the home's own path included
MANIFEST_SUFFIXES = (".csv", ".toml")


class UploadRefused(UsageError):
    """The upload cannot become a batch as sent; the reason says what to change."""


@dataclass(frozen=True)
class UploadLimits:
    """The most one upload may hold, unpacked zips counted as they unpack."""

    max_bytes: int
    max_files: int


@dataclass
class UploadRecord:
    """What the web app knows of a batch it received: who sent it, what it was queued with,
    and how its start went. The ledger takes over once the batch runs."""

    batch_id: str
    by: str
    unit: str
    series: str = ""
    classification: str = "public"
    languages: str | None = None
    files: int = 0
    bytes: int = 0
    received: str = field(default_factory=now)
    requeue_of: str | None = None  # "<batch id>/<source>" when it replaces a quarantined file
    pid: int | None = None  # the `records queue` process running or submitting it
    pid_started: int | None = None  # its start time (clock ticks since boot): pids are reused
    exit_code: int | None = None
    error: str | None = None  # the one line it ended with, when it ended without a ledger
    outcome: str | None = None  # on a Prefect server: queued, already queued, already done
    runs_as: str | None = None  # the batch id the server ran it as, when it knew the scans


def _clean_component(part: str, whole: str) -> str:
    if part in ("", ".", ".."):
        raise UploadRefused(f"the file name {whole!r} climbs out of its folder")
    if any(not ch.isprintable() for ch in part):
        raise UploadRefused(f"the file name {whole!r} holds control characters")
    if len(os.fsencode(part)) > MAX_NAME_BYTES:
        raise UploadRefused(f"the file name {part[:40]!r}... is longer than "
                            f"{MAX_NAME_BYTES} bytes")
    return part


def _manifest_name(name: str) -> str:
    """What a file sent as the manifest is stored as: manifest.csv or manifest.toml."""
    suffix = Path(name.replace("\\", "/")).suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise UploadRefused("the manifest must be a .csv or .toml file "
                            "(save a workbook as CSV)")
    return "manifest" + suffix


def relative_parts(name: str) -> tuple[str, ...] | None:
    """A sent file's path as the folders and name it will have in the batch; None for the
    desktop's junk files (``.DS_Store``, ``Thumbs.db``, ``__MACOSX/``). Browsers send a
    picked folder's files as ``folder/sub/name``; Windows tools send backslashes. A name
    that is absolute or climbs with ``..`` refuses the whole upload: its files were meant to
    go somewhere the officer did not choose."""
    whole = unicodedata.normalize("NFC", name)
    if whole.startswith(("/", "\\")) or (len(whole) > 1 and whole[1] == ":"):
        raise UploadRefused(f"the file name {name!r} is an absolute path")
    parts = [p for p in whole.replace("\\", "/").split("/") if p != "."]
    while parts and parts[0] == "":
        parts.pop(0)
    if not parts:
        raise UploadRefused("a file was sent without a name")
    if any(p.lower() in JUNK for p in parts):
        return None
    return tuple(_clean_component(p, name) for p in parts)


class StagedUpload:
    """One upload being received: files are opened, written in chunks and closed in turn.

    ``strip_top`` names the form fields whose files share a top folder that is not part of
    the batch (a picked folder is the batch folder itself)."""

    def __init__(self, root: Path, limits: UploadLimits) -> None:
        self.root = root
        self.limits = limits
        self.folder = root / f"{secrets.token_hex(8)}{PARTIAL}"
        self.folder.mkdir(parents=True)
        self.files = 0
        self.bytes = 0
        self._names: set[tuple[str, ...]] = set()
        self._folders: set[tuple[str, ...]] = set()  # (case-folded) folders files lie in
        self._current: BinaryIO | None = None
        self._current_path: Path | None = None
        self._manifests = 0

    # ------------------------------------------------------------------ receiving

    def begin_file(self, name: str, kind: str = "files") -> bool:
        """Start receiving a file sent as ``name`` in the form field ``kind`` ("files",
        "folder" or "manifest"); False when it is junk to be skipped."""
        if self._current is not None:
            raise UploadRefused("a file began before the one before it ended")
        parts = (_manifest_name(name),) if kind == "manifest" else relative_parts(name)
        if parts is None:
            return False
        if kind == "folder" and len(parts) > 1:
            parts = parts[1:]  # the picked folder is the batch folder
        self._check_new(parts)
        path = self.folder.joinpath(*parts)
        if len(os.fsencode(path)) > MAX_PATH_BYTES:
            raise UploadRefused(f"the path {'/'.join(parts)[:60]!r}... is too long to store")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._current = open(path, "xb")  # noqa: SIM115 - closed by end_file or discard
        except OSError as exc:  # a name the disk cannot hold, a file where a folder goes
            raise UploadRefused(f"{'/'.join(parts)!r} cannot be stored: "
                                f"{exc.strerror or exc}") from None
        self._current_path = path
        return True

    def _check_new(self, parts: tuple[str, ...]) -> None:
        if len(parts) == 1 and is_manifest_name(parts[0]):
            self._manifests += 1
            if self._manifests > 1:
                raise UploadRefused("the upload holds two manifests; keep one")
        key = tuple(p.casefold() for p in parts)
        if key in self._names or key in self._folders \
                or any(key[:i] in self._names for i in range(1, len(key))):
            raise UploadRefused(f"two files would be named {'/'.join(parts)!r}")
        self._folders.update(key[:i] for i in range(1, len(key)))
        self._names.add(key)
        self.files += 1
        if self.files > self.limits.max_files:
            raise UploadRefused(f"more than {self.limits.max_files} files: queue a batch this "
                                "large with `records queue` (web.max_upload_files)")

    def write(self, data: bytes) -> None:
        if self._current is None:
            return
        self._count(len(data))
        try:
            self._current.write(data)
        except OSError as exc:  # the disk is full: the upload cannot be kept whole
            raise UploadRefused(f"the server could not store the upload: "
                                f"{exc.strerror or exc}") from None

    def _count(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise UploadRefused(f"the upload is larger than {self.limits.max_bytes >> 20} MB: "
                                "queue a batch this large with `records queue` "
                                "(web.max_upload_mb)")

    def end_file(self, unpack: bool = True) -> None:
        """Close the file; a zip is unpacked where it lies, and then removed (a zip inside a
        zip is left as a file: it is no scan, and the batch quarantines it)."""
        if self._current is None or self._current_path is None:
            return
        self._current.close()
        path, self._current, self._current_path = self._current_path, None, None
        if unpack and path.suffix.lower() == ".zip":
            self._unpack(path)

    def _unpack(self, path: Path) -> None:
        self.bytes -= path.stat().st_size  # the contents count instead of the zip
        self.files -= 1
        self._names.discard(tuple(p.casefold() for p in path.relative_to(self.folder).parts))
        base = path.parent.relative_to(self.folder).parts
        self._check_entries(path)
        # Out of the way first: the zip may hold a file of its own name.
        packed = path.with_name(f".{secrets.token_hex(4)}.unpacking")
        path.rename(packed)
        path = packed
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                top = _single_top(members)
                for member in members:
                    self._unpack_member(archive, member, base, top)
        except UploadRefused:
            raise
        except Exception as exc:
            raise UploadRefused(f"{path.name} cannot be unpacked: "
                                f"{type(exc).__name__}: {exc}"[:300]) from None
        path.unlink()

    def _check_entries(self, path: Path) -> None:
        """Refuse a zip that says it holds more entries than an upload may, before its
        directory is read (each entry read costs memory: millions would exhaust it)."""
        try:
            with path.open("rb") as handle:
                # The standard library's own reader of the end record (the entry count of a
                # zip64 archive included), private but unchanged since Python 2.
                end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]
        except OSError:
            end = None
        if end is None:
            raise UploadRefused(f"{path.name} is not a zip file")
        entries = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]
        if entries > 2 * self.limits.max_files:  # folders and junk count too: some slack
            raise UploadRefused(f"{path.name} holds more than {self.limits.max_files} files: "
                                "queue a batch this large with `records queue`")

    def _unpack_member(self, archive: zipfile.ZipFile, member: zipfile.ZipInfo,
                       base: tuple[str, ...], top: str | None) -> None:
        if stat.S_ISLNK(member.external_attr >> 16):
            raise UploadRefused(f"the zip holds a link ({member.filename!r}): send the file "
                                "itself")
        if member.flag_bits & 0x1:
            raise UploadRefused(f"{member.filename!r} in the zip is encrypted: send it "
                                "unencrypted")
        parts = relative_parts(member.filename)
        if parts is None:
            return
        if top is not None:
            parts = parts[1:]  # a zip of one folder holds the batch folder
        if not self.begin_file("/".join(base + parts)):
            return
        with archive.open(member) as source:  # sizes counted as read, not as the zip claims
            while chunk := source.read(CHUNK):
                self.write(chunk)
        self.end_file(unpack=False)

    # ------------------------------------------------------------------ ending

    def commit(self, batch_id: str, record: UploadRecord) -> Path:
        """Make the received files the batch ``batch_id``: the folder is renamed (so it is
        complete or absent) and then described."""
        if self._current is not None:
            raise UploadRefused("the upload ended in the middle of a file; send it again")
        if self.files == 0:
            raise UploadRefused("no files were sent: choose files, a folder or a zip")
        final = self.root / batch_id
        os.rename(self.folder, final)
        record.files, record.bytes = self.files, self.bytes
        save_upload(self.root.parent, record)
        return final

    def discard(self) -> None:
        """Leave nothing of an upload that did not finish."""
        if self._current is not None:
            self._current.close()
            self._current = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _single_top(members: list[zipfile.ZipInfo]) -> str | None:
    """The folder every file of a zip lies in, if there is one and nothing beside it."""
    tops = set()
    for member in members:
        parts = relative_parts(member.filename)
        if parts is None:
            continue
        if len(parts) < 2:
            return None
        tops.add(parts[0])
    return tops.pop() if len(tops) == 1 else None


def begin_upload(home: Path, limits: UploadLimits) -> StagedUpload:
    """A new upload under ``home/uploads``, after removing what crashed uploads left."""
    root = home / UPLOADS
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root, time.time())
    return StagedUpload(root, limits)


def remove_stale(root: Path, now_seconds: float) -> list[str]:
    """Remove partial uploads a crash left (untouched for a day); return their names."""
    removed = []
    for path in root.glob(f"*{PARTIAL}"):
        try:
            if now_seconds - path.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(path)
                removed.append(path.name)
        except OSError:
            continue
    return removed


# ---------------------------------------------------------------------- the upload records


def _record_path(home: Path, batch_id: str) -> Path:
    return home / UPLOADS / f"{batch_id}.json"


def save_upload(home: Path, record: UploadRecord) -> None:
    write_json(_record_path(home, record.batch_id), asdict(record))


def load_upload(home: Path, batch_id: str) -> UploadRecord | None:
    """The upload that became ``batch_id``, if the web app received it."""
    path = _record_path(home, batch_id)
    if "/" in batch_id or not path.is_file():
        return None
    known = UploadRecord.__dataclass_fields__
    data = json.loads(path.read_text(encoding="utf-8"))
    return UploadRecord(**{k: v for k, v in data.items() if k in known})


def list_uploads(home: Path) -> list[UploadRecord]:
    """Every upload received, newest first."""
    root = home / UPLOADS
    found = sorted(root.glob("*.json"), reverse=True) if root.is_dir() else []
    return [r for r in (load_upload(home, p.stem) for p in found) if r is not None]


def upload_folder(home: Path, batch_id: str) -> Path:
    return home / UPLOADS / batch_id
