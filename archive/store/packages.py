"""Committing a record to the archive: staged, checksummed, renamed into place, read-only.

A record is a folder ``archive/<record id>/`` holding the PDF/A, the original scans byte for
byte, each page's text, ALTO and hOCR, the ``record.json`` sidecar and ``manifest-sha256.txt``
over all of it. It is built in ``archive/.staging`` and appears by one rename, so a crash
leaves either no record or a whole one. Identical scans map to one record (content hash).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archive.store.files import (
    copy_tree_verified,
    make_read_only,
    sha256_file,
    write_atomic,
    write_json,
)
from archive.store.ids import id_prefix
from archive.store.ids import record_id as nth_record_id
from archive.store.layout import MANIFEST, SIDECAR, RecordPaths


@dataclass(frozen=True)
class Stored:
    record_id: str
    path: Path
    duplicate: bool  # the same scans were archived before; nothing was written


@contextmanager
def _locked(archive: Path) -> Iterator[None]:
    """Serialise id allocation between threads and processes sharing the archive."""
    archive.mkdir(parents=True, exist_ok=True)
    with (archive / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reserve_id(archive: Path, content_sha: str, unit: str, year: int) -> tuple[str, bool]:
    """The record id for these scans: the one reserved before, or the next free number.

    The reservation (``.by-hash/<sha>``) is written before the record is committed, so a
    crash between the two makes a rerun reuse the id rather than mint a second record.
    """
    with _locked(archive):
        reserved = _reserved_id(archive, content_sha)
        if reserved:
            return reserved, (archive / reserved).is_dir()
        prefix = id_prefix(unit, year)
        counter = archive / ".ids" / prefix
        last = int(counter.read_text(encoding="utf-8")) if counter.is_file() else 0
        record_id = nth_record_id(prefix, last + 1)
        write_atomic(counter, str(last + 1).encode())
        write_atomic(archive / ".by-hash" / content_sha, record_id.encode())
        return record_id, False


def _reserved_id(archive: Path, content_sha: str) -> str | None:
    pointer = archive / ".by-hash" / content_sha
    return pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None


def known_record(archive: Path, content_sha: str) -> str | None:
    """The id of the committed record holding these scans, if there is one."""
    record_id = _reserved_id(archive, content_sha)
    return record_id if record_id and (archive / record_id).is_dir() else None


def store_record(
    archive: Path,
    *,
    content_sha: str,
    unit: str,
    year: int,
    source: Path,
    pdf: Path,
    page_dirs: list[Path],
    sidecar: dict,
    record_id: str | None = None,
) -> Stored:
    """Commit one record; return its id, or the existing one when these scans are known.

    ``record_id`` is the id :func:`reserve_id` gave earlier (it is written into the signed
    PDF, so it must be known before the record is committed); without it one is reserved.
    """
    exists = False
    if record_id is None:
        record_id, exists = reserve_id(archive, content_sha, unit, year)
    final = archive / record_id
    exists = exists or final.is_dir()
    if exists:
        return Stored(record_id, final, duplicate=True)
    stage = archive / ".staging" / f"{record_id}.{uuid.uuid4().hex}"
    stage.mkdir(parents=True)
    staged = RecordPaths(stage, record_id)
    try:
        shutil.copyfile(pdf, staged.pdf)
        originals = copy_tree_verified(source, stage / "originals")
        for number, page_dir in enumerate(page_dirs, start=1):
            for name, suffix in (("page.txt", "txt"), ("page.xml", "alto.xml"),
                                 ("page.hocr", "hocr")):
                if (page_dir / name).is_file():
                    target = stage / "pages" / f"{number:04d}.{suffix}"
                    target.parent.mkdir(exist_ok=True)
                    shutil.copyfile(page_dir / name, target)
        write_json(staged.sidecar, {**sidecar, "record_id": record_id, "originals": originals})
        _write_manifest(stage)
        make_read_only(stage)
        stage.rename(final)
    except BaseException:
        _remove(stage)
        raise
    return Stored(record_id, final, duplicate=False)


def _write_manifest(stage: Path) -> None:
    lines = [f"{sha256_file(p)}  {p.relative_to(stage).as_posix()}"
             for p in sorted(stage.rglob("*")) if p.is_file()]
    (stage / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _remove(path: Path) -> None:
    for sub in [path, *path.rglob("*")]:
        if sub.is_dir():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def verify_package(record: Path) -> list[str]:
    """Files whose checksum no longer matches ``manifest-sha256.txt`` (empty: intact)."""
    problems = []
    for line in (record / MANIFEST).read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        path = record / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed")
    return problems


def replace_copy(archive: Path, record_id: str, data: bytes, renewal: dict) -> Path:
    """Swap in a renewed PDF (the old one plus an incremental update), as a whole new package.

    The package is copied to staging, the PDF replaced, the renewal appended to
    ``renewals.json`` and the manifest rewritten; then the old folder steps aside and the new
    one takes its place, each by one rename. :func:`recover` undoes a crash between the two.
    """
    final = archive / record_id
    stage = archive / ".staging" / f"{record_id}.{uuid.uuid4().hex}"
    shutil.copytree(final, stage)
    staged = RecordPaths(stage, record_id)
    try:
        for sub in [stage, *stage.rglob("*")]:
            sub.chmod(0o755 if sub.is_dir() else 0o644)
        staged.pdf.write_bytes(data)
        log = staged.renewals
        entries = json.loads(log.read_text(encoding="utf-8")) if log.is_file() else []
        write_json(log, [*entries, renewal])
        staged.manifest.unlink()
        _write_manifest(stage)
        make_read_only(stage)
        old = archive / ".staging" / f"{record_id}.old"
        final.rename(old)
        stage.rename(final)
    except BaseException:
        _remove(stage)
        raise
    _remove(old)
    return final


def recover(archive: Path) -> list[str]:
    """Put back records a crash left aside mid-renewal; return their ids."""
    restored = []
    for old in (archive / ".staging").glob("*.old") if (archive / ".staging").is_dir() else []:
        record_id = old.name.removesuffix(".old")
        if not (archive / record_id).exists():
            old.rename(archive / record_id)
            restored.append(record_id)
        else:
            _remove(old)
    return restored


def record_ids(archive: Path) -> list[str]:
    """Ids of every committed record, in order."""
    if not archive.is_dir():
        return []
    return sorted(p.name for p in archive.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / SIDECAR).is_file())
