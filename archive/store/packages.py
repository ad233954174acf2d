"""Committing records to the archive: staged, made an OCFL object, renamed into place, logged.

A record is built in ``work/staging`` (the PDF/A, the original scans byte for byte, each
page's text, ALTO and hOCR, the ``record.json`` sidecar), made an OCFL object there, and
appears in the archive by one rename: a crash leaves either no record or a whole one. Its
version is then entered in the archive's log. A change (a renewal) is a new version of a
staged copy, swapped in by one renameat2 exchange (two renames where the file system cannot);
nothing in a committed object is rewritten.

Between the rename and the log entry a crash would leave a record the log does not know, so
an *intent* (``work/intents/<id>.json``: the id, version and inventory digest just made) is
written before the rename and removed after the entry: :func:`recover` finishes what it
names, and only that. Identical scans map to one record (content hash).
"""

from __future__ import annotations

import fcntl
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from archive.store.archivelog import ArchiveLog, Leaf
from archive.store.files import (
    READ_ONLY_DIR,
    WRITABLE_DIR,
    copy_tree_verified,
    exchange_paths,
    make_read_only,
    make_writable,
    write_atomic,
    write_json,
)
from archive.store.ids import id_prefix, is_record_id
from archive.store.ids import record_id as nth_record_id
from archive.store.layout import SIDECAR, RecordPaths, home_of, work_dir
from archive.store.objects import (
    INVENTORY,
    Inventory,
    ObjectDamaged,
    add_version,
    create_object,
    init_storage_root,
    read_inventory,
)
from config.errors import RecordsError

STAGING = "records-staging"  # the storage root's local extension folder records builds in
STALE_STAGING = 24 * 3600  # no commit takes a day: staging this old was left by a crash
Vouch = Callable[[Leaf], Leaf]
"""Signs a version's leaf with the organisation's seal (``archive.signing.vouch``)."""


@dataclass(frozen=True)
class Stored:
    record_id: str
    path: Path
    duplicate: bool  # the same scans were archived before; nothing was written


@contextmanager
def _locked(archive: Path) -> Iterator[None]:
    """Serialise id allocation between threads and processes sharing the archive."""
    work = work_dir(home_of(archive))
    work.mkdir(parents=True, exist_ok=True)
    with (work / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def record_lock(archive: Path, record_id: str) -> Iterator[None]:
    """Hold one record still while a person's change to it is read, built and committed: two
    corrections at once would each copy the same version, and the second rename would drop
    the first's change. Other records, and ingest, go on meanwhile."""
    locks = work_dir(home_of(archive)) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{record_id}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reserve_id(archive: Path, content_sha: str, unit: str, year: int) -> tuple[str, bool]:
    """The record id for these scans: the one reserved before, or the next free number.

    The reservation (``work/by-hash/<sha>``) is written before the record is committed, so a
    crash between the two makes a rerun reuse the id rather than mint a second record.
    """
    work = work_dir(home_of(archive))
    with _locked(archive):
        reserved = _reserved_id(archive, content_sha)
        if reserved:
            return reserved, (archive / reserved).is_dir()
        prefix = id_prefix(unit, year)
        counter = work / "ids" / prefix
        last = int(counter.read_text(encoding="utf-8")) if counter.is_file() else 0
        # The counter is the work folder's, the records are the archive's: when they disagree
        # (records imported or migrated with their ids, a work folder lost or restored from an
        # older backup) the ids on disk win. Reusing one would call new scans a duplicate of
        # an unrelated record, and archive nothing.
        while (archive / nth_record_id(prefix, last + 1)).exists():
            last += 1
        record_id = nth_record_id(prefix, last + 1)
        write_atomic(counter, str(last + 1).encode())
        write_atomic(work / "by-hash" / content_sha, record_id.encode())
        return record_id, False


def _reserved_id(archive: Path, content_sha: str) -> str | None:
    pointer = work_dir(home_of(archive)) / "by-hash" / content_sha
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
    vouch: Vouch | None = None,
) -> Stored:
    """Commit one record; return its id, or the existing one when these scans are known.

    ``record_id`` is the id :func:`reserve_id` gave earlier (it is written into the signed
    PDF, so it must be known before the record is committed); without it one is reserved.
    ``vouch`` signs the version's leaf with the organisation's seal (None: signing is off,
    and no signed head will ever cover the record).
    """
    exists = False
    if record_id is None:
        record_id, exists = reserve_id(archive, content_sha, unit, year)
    final = archive / record_id
    if exists or final.is_dir():
        recover(archive)  # committed by a run that died before logging it: log it now
        return Stored(record_id, final, duplicate=True)
    stage = staging_for(archive, record_id)
    content = stage / "content"
    staged = RecordPaths(content, record_id)
    try:
        content.mkdir(parents=True)
        shutil.copyfile(pdf, content / f"{record_id}.pdf")
        originals = copy_tree_verified(source, content / "originals")
        for number, page_dir in enumerate(page_dirs, start=1):
            for name, suffix in (("page.txt", "txt"), ("page.xml", "alto.xml"),
                                 ("page.hocr", "hocr")):
                if (page_dir / name).is_file():
                    target = content / "pages" / f"{number:04d}.{suffix}"
                    target.parent.mkdir(exist_ok=True)
                    shutil.copyfile(page_dir / name, target)
        write_json(staged.folder / SIDECAR,
                   {**sidecar, "record_id": record_id, "originals": originals})
        inventory = create_object(record_id, content, stage / "object",
                                  f"ingest of batch {sidecar.get('batch_id', '')}".strip())
        commit_object(archive, stage / "object", final, inventory, vouch=vouch)
    except AlreadyCommitted:
        return Stored(record_id, final, duplicate=True)
    finally:
        remove_tree(stage)
    return Stored(record_id, final, duplicate=False)


def staging_for(archive: Path, record_id: str) -> Path:
    """A fresh folder to build an object in, on the archive's own file system (a rename into
    place cannot cross file systems): a local extension folder of the storage root, which
    OCFL lets hold anything."""
    init_storage_root(archive)
    return staging_root(archive) / f"{record_id}.{uuid.uuid4().hex}"


def staging_root(archive: Path) -> Path:
    return archive / "extensions" / STAGING


def _intent(archive: Path, record_id: str) -> Path:
    return work_dir(home_of(archive)) / "intents" / f"{record_id}.json"


class ObjectChanged(RecordsError):
    """The record got a new version while this one was being built on the one before."""


class AlreadyCommitted(RecordsError):
    """Another process committed a record under this id while this one was being built: the
    same scans, reserved by both (the reservation is per content), archived by the other."""


def commit_object(archive: Path, staged: Path, final: Path, inventory: Inventory,
                  replacing: Path | None = None, log: bool = True,
                  vouch: Vouch | None = None, based_on: str | None = None) -> None:
    """Rename a staged object into place and log its version (unless ``log`` is off), with
    ``vouch``'s promise; ``replacing`` is where the version before it is moved aside (a new
    version, built on version ``based_on``), None for a new record."""
    make_read_only(staged)
    # A folder moved to another parent must be writable (its ".." entry changes), so the
    # object's own folder is made read-only only once it is in place.
    staged.chmod(WRITABLE_DIR)
    init_storage_root(archive)
    leaf = Leaf(inventory.id, inventory.head, inventory.sha512)
    leaf = vouch(leaf) if vouch is not None else leaf
    intent = _intent(archive, inventory.id)
    with _locked(archive):  # recover() takes the same lock: it never sees a commit mid-way
        if replacing is None and final.exists():
            # Checked under the lock, where no other commit can come between it and the
            # rename: before, two processes holding the same scans both built the record, and
            # the second's rename failed on the first's folder.
            raise AlreadyCommitted(f"{inventory.id} was committed by another process")
        if replacing is not None:
            head = read_inventory(final).head
            if based_on is not None and head != based_on:
                # Another writer committed meanwhile: swapping this in would drop its version.
                raise ObjectChanged(f"{inventory.id} changed while this change was made "
                                    f"({based_on} then, {head} now): make it again")
        if log:
            write_atomic(intent, leaf.encode())
        try:
            if replacing is not None:
                _replace(staged, final, replacing)
            else:
                staged.rename(final)
        except BaseException:
            if not _holds(final, inventory.id, inventory.head, inventory.sha512):
                # else this very version is in place: recover() logs it, from the intent
                intent.unlink(missing_ok=True)
            raise
        final.chmod(READ_ONLY_DIR)
        if log:
            ArchiveLog(home_of(archive)).append(leaf)
        intent.unlink(missing_ok=True)


def _replace(staged: Path, final: Path, replacing: Path) -> None:
    """Put the staged version in the place of the one before, which goes to ``replacing``.
    Swapped in one step where the file system can (a reader of the record finds the version
    before or this one, never no record); else by two renames, the first undone if the
    second fails, and undone by recover() after a crash between them."""
    final.chmod(WRITABLE_DIR)  # a folder moved to another parent must be writable
    try:
        swapped = exchange_paths(staged, final)
    except BaseException:
        final.chmod(READ_ONLY_DIR)
        raise
    if swapped:
        # The version before is now at ``staged`` and goes with its staging; moved to where
        # the caller expects it when it can be, as nothing depends on it any more.
        with suppress(OSError):
            staged.rename(replacing)
        return
    final.rename(replacing)
    try:
        staged.rename(final)
    except BaseException:
        replacing.rename(final)
        final.chmod(READ_ONLY_DIR)
        raise


def _holds(folder: Path, record_id: str, version: str, sha512: str) -> bool:
    """Whether ``folder`` holds this very version of the record, its inventory's digest
    included: an interruption after a swap, or after a commit, left it in place."""
    try:
        found = read_inventory(folder)
    except (OSError, ValueError, TypeError, ObjectDamaged):
        return False
    return (found.id, found.head, found.sha512) == (record_id, version, sha512)


def new_version(archive: Path, record_id: str, files: dict[str, bytes], message: str,
                vouch: Vouch | None = None) -> Path:
    """Commit a new version of a record in which each logical path of ``files`` holds the
    bytes given and every other file is carried forward; return the object's folder.

    The object is copied to staging and the version added there; then the two folders are
    swapped in one step (``_replace``; two renames where the file system cannot swap, a crash
    between them undone by :func:`recover`), which also logs a version a crash left
    unlogged.
    """
    final = archive / record_id
    stage = staging_for(archive, record_id)
    try:
        shutil.copytree(final, stage / "object")
        based_on = read_inventory(stage / "object").head
        make_writable(stage / "object")
        for logical, data in files.items():
            target = stage / "new" / logical
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        inventory = add_version(stage / "object", stage / "new", message)
        old = stage.with_name(f"{record_id}.old")
        commit_object(archive, stage / "object", final, inventory, replacing=old, vouch=vouch,
                      based_on=based_on)
        remove_tree(old)
    finally:
        remove_tree(stage)
    return final


def remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for sub in [path, *path.rglob("*")]:
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(WRITABLE_DIR)
    shutil.rmtree(path, ignore_errors=True)


def recover(archive: Path, clear_staging: bool = True) -> list[str]:
    """Finish what a crash interrupted: put back objects left aside mid-way through a new
    version, log the versions an intent names whose object is in place (the intent carries
    the leaf, promise included, made before the rename), and clear staging a crash left a
    day or more ago (unless *clear_staging* is off: verification reports such staging, a
    copy outside every check, and leaves it to the next batch); return the ids of the
    records touched. Never raises for one damaged intent: it names nothing that can be
    finished, and goes."""
    touched: list[str] = []
    if not archive.is_dir():
        return touched
    with _locked(archive):
        staging = staging_root(archive)
        for old in sorted(staging.glob("*.old")) if staging.is_dir() else []:
            record_id = old.name.removesuffix(".old")
            if is_record_id(record_id) and not (archive / record_id).exists():
                old.rename(archive / record_id)
                (archive / record_id).chmod(READ_ONLY_DIR)
                touched.append(record_id)
            else:
                remove_tree(old)
        intents = work_dir(home_of(archive)) / "intents"
        for intent in sorted(intents.glob("*.json")) if intents.is_dir() else []:
            finished = _finish(archive, intent)
            if finished:
                touched.append(finished)
            intent.unlink(missing_ok=True)
        for leftover in staging.iterdir() if staging.is_dir() and clear_staging else []:
            if time.time() - leftover.lstat().st_mtime > STALE_STAGING:
                remove_tree(leftover)
    return touched


def _finish(archive: Path, intent: Path) -> str | None:
    try:
        leaf = Leaf.decode(intent.read_bytes())
    except (OSError, ValueError, TypeError, ObjectDamaged):
        return None
    if not _holds(archive / leaf.record_id, leaf.record_id, leaf.version,
                  leaf.inventory_sha512):
        return None
    ArchiveLog(home_of(archive)).ensure(leaf)
    return leaf.record_id


def record_ids(archive: Path) -> list[str]:
    """Ids of every committed record, in order."""
    if not archive.is_dir():
        return []
    return sorted(p.name for p in archive.iterdir()
                  if p.is_dir() and is_record_id(p.name) and (p / INVENTORY).is_file())
