"""Migrating an archive written by records 0.1 to OCFL objects, without losing a byte.

The first layout kept each record as a plain folder ``archive/<id>/`` with a
``manifest-sha256.txt``, later events in ``archive/.events/<id>.jsonl``, and records'
bookkeeping (``.ids``, ``.by-hash``, ``.staging``) inside the archive. Migration turns each
record into an OCFL object whose first version holds every file of its folder exactly as it
was (the old manifest and ``renewals.json`` included) and its later-events log as
``events.jsonl``, byte for byte; moves the bookkeeping to ``RECORDS_HOME/work``; and leaves the
old folder beside the new one, renamed ``archive-0.1``, for the operator to remove once the
new archive verifies.

A record is entered in the archive's log only when its old manifest still matches its files
and ``check`` (the caller's verification of the new object) finds nothing wrong: migration
must not vouch for a record tampered with before it. Such a record is migrated all the same
(nothing is lost) and reported, and verification then names it as not in the log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from archive.store.files import make_writable, sha256_file
from archive.store.ids import is_record_id
from archive.store.layout import EVENTS, home_of, work_dir
from archive.store.objects import (
    ROOT_DECLARATION,
    ObjectDamaged,
    create_object,
    init_storage_root,
    sha512_file,
)
from archive.store.packages import Vouch, commit_object, remove_tree, staging_for

LEGACY = "archive-0.1"
MANIFEST = "manifest-sha256.txt"
BOOKKEEPING = {".ids": "ids", ".by-hash": "by-hash"}


@dataclass(frozen=True)
class Migrated:
    record_id: str
    files: int
    logged: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class Migration:
    legacy: Path
    records: list[Migrated] = field(default_factory=list)


def is_legacy(archive: Path) -> bool:
    """Whether ``archive`` is an archive of the first layout (not an OCFL storage root), or
    one whose migration was interrupted (its old folder still beside it, not all carried)."""
    legacy = archive.with_name(LEGACY)
    if legacy.is_dir() and (archive / ROOT_DECLARATION).is_file():
        return bool(_pending(archive, legacy))
    return archive.is_dir() and not (archive / ROOT_DECLARATION).exists() and any(
        (child / MANIFEST).is_file() or child.name in (".ids", ".events", ".by-hash")
        for child in archive.iterdir())


def _records_of(legacy: Path) -> list[Path]:
    """Every record folder of an archive of the first layout, manifest or not: a folder it
    holds is migrated, never passed over in silence."""
    return sorted(p for p in legacy.iterdir() if p.is_dir() and not p.is_symlink()
                  and not p.name.startswith(".") and p.name != "lost+found")


def _pending(archive: Path, legacy: Path) -> list[Path]:
    return [p for p in _records_of(legacy) if not (archive / p.name).exists()]


def migrate_archive(archive: Path, check: Callable[[Path], list[str]],
                    vouch: Vouch | None) -> Migration:
    """Convert ``archive`` in place, or finish a conversion a crash interrupted; ``check``
    verifies a staged object and returns what is wrong with it (empty: it may be logged,
    with ``vouch``'s promise)."""
    if not is_legacy(archive):
        raise ValueError(f"{archive} is not an archive of the first layout")
    legacy = archive.with_name(LEGACY)
    if not legacy.exists():
        _put_back_renewals(archive)
        archive.rename(legacy)
    init_storage_root(archive)
    work = work_dir(home_of(archive))
    for old, new in BOOKKEEPING.items():
        if (legacy / old).is_dir():
            shutil.copytree(legacy / old, work / new, dirs_exist_ok=True)
    done = Migration(legacy)
    for folder in _pending(archive, legacy):
        done.records.append(_migrate_record(archive, legacy, folder, check, vouch))
    return done


def _put_back_renewals(archive: Path) -> None:
    """The first layout's recovery: a record set aside mid-renewal goes back in place."""
    staging = archive / ".staging"
    for old in staging.glob("*.old") if staging.is_dir() else []:
        target = archive / old.name.removesuffix(".old")
        if not target.exists():
            old.rename(target)


def _migrate_record(archive: Path, legacy: Path, folder: Path,
                    check: Callable[[Path], list[str]], vouch: Vouch | None) -> Migrated:
    record_id = folder.name
    stage = staging_for(archive, record_id)
    try:
        content = stage / "content"
        shutil.copytree(folder, content, symlinks=True)
        events = legacy / ".events" / f"{record_id}.jsonl"
        if events.is_file():
            shutil.copyfile(events, content / EVENTS)
        make_writable(content)
        problems = _legacy_manifest(folder)
        staged = stage / record_id  # named by its id, as in the archive, for ``check``
        inventory = create_object(record_id, content, staged,
                                  "migrated from the first records layout")
        problems += _same_bytes(folder, events, inventory.state())
        if not is_record_id(record_id):
            problems.append(f"{record_id!r} is not a record id")
        try:
            problems += check(staged)
        except (ObjectDamaged, OSError, ValueError, KeyError) as exc:
            problems.append(f"it cannot be verified ({type(exc).__name__})")
        commit_object(archive, staged, archive / record_id, inventory, log=not problems,
                      vouch=vouch)
    finally:
        remove_tree(stage)
    return Migrated(record_id, len(inventory.manifest), not problems, problems)


def _legacy_manifest(folder: Path) -> list[str]:
    """What no longer matches the record's old manifest: a file changed or missing, a file
    the manifest does not list (added after the record was archived), or no manifest."""
    try:
        lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{MANIFEST} cannot be read ({type(exc).__name__}): nothing to check the "
                "record against"]
    problems, listed = [], {MANIFEST}
    for line in lines:
        digest, _, name = line.partition("  ")
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing before migration")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed before migration (its old manifest disagrees)")
    problems += [f"{name}: not in its old manifest (added after the record was archived)"
                 for name in sorted(p.relative_to(folder).as_posix()
                                    for p in folder.rglob("*") if p.is_file())
                 if name not in listed]
    return problems


def _same_bytes(folder: Path, events: Path, state: dict[str, str]) -> list[str]:
    """Every file of the old folder (and its events log) is in the object's first version,
    byte for byte (by SHA-512, which the object's own check then ties to the bytes kept)."""
    wanted = {path.relative_to(folder).as_posix(): path
              for path in folder.rglob("*") if path.is_file()}
    if events.is_file():
        wanted[EVENTS] = events
    return [f"{name}: not carried over byte for byte" for name, path in sorted(wanted.items())
            if state.get(name) != sha512_file(path)]


def legacy_size(legacy: Path) -> int:
    """Bytes the old folder takes (what removing it frees)."""
    return sum(os.path.getsize(p) for p in legacy.rglob("*") if p.is_file())
