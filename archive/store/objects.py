"""Records as OCFL 1.1 objects: what a version holds, read from its inventory; written with
ocfl-py.

The Oxford Common File Layout is a published format that outlives the software that wrote
it: each record is a folder with an ``inventory.json`` that names every file of every version
and its SHA-512, and ``v1/``, ``v2/``, ... holding the files each version added. A change is
a new version; nothing is rewritten. Reading needs nothing but JSON and SHA-512, so it is
done here in a few lines (the web app and search must not pay for ocfl-py's import); writing
and the independent validation use ocfl-py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from archive.store.files import write_atomic
from config.errors import RecordsError

INVENTORY = "inventory.json"
ALGORITHM = "sha512"
OBJECT_DECLARATION = "0=ocfl_object_1.1"
ROOT_DECLARATION = "0=ocfl_1.1"
LAYOUT = "0002-flat-direct-storage-layout"  # an object's folder is named by its id
USER = {"name": "records", "address": "https://github.com/records/records"}


class ObjectDamaged(RecordsError):
    """A record's OCFL object cannot be read: its inventory is missing or not an inventory."""


def sha512_file(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Inventory:
    """An object's root inventory: its bytes (what the archive's log records the digest of)
    and what they say."""

    raw: bytes

    @cached_property
    def data(self) -> dict[str, Any]:
        return json.loads(self.raw)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def head(self) -> str:
        return self.data["head"]

    @cached_property
    def sha512(self) -> str:
        return hashlib.sha512(self.raw).hexdigest()

    @cached_property
    def manifest(self) -> dict[str, str]:
        """Content path -> digest, for every file the object holds."""
        return {path: digest for digest, paths in self.data["manifest"].items()
                for path in paths}

    def state(self, version: str | None = None) -> dict[str, str]:
        """Logical path -> digest of the files of a version (the head by default)."""
        state = self.data["versions"][version or self.head]["state"]
        return {path: digest for digest, paths in state.items() for path in paths}

    def content_path(self, logical: str, version: str | None = None) -> str | None:
        """Where the object keeps the file that a version calls ``logical`` (None: no such
        file in that version)."""
        digest = self.state(version).get(logical)
        if digest is None:
            return None
        return self._content_paths[digest][0]

    @cached_property
    def _content_paths(self) -> dict[str, list[str]]:
        return self.data["manifest"]


def read_inventory(folder: Path) -> Inventory:
    """The root inventory of the object at ``folder``; :class:`ObjectDamaged` when there is
    none or it is not one."""
    try:
        inventory = Inventory((folder / INVENTORY).read_bytes())
        if not isinstance(inventory.data["manifest"], dict) or \
                inventory.head not in inventory.data["versions"]:
            raise ValueError("no head version or manifest")
    except FileNotFoundError:
        raise ObjectDamaged(f"{folder.name} has no {INVENTORY}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ObjectDamaged(f"{folder.name}/{INVENTORY} is not an OCFL inventory "
                            f"({type(exc).__name__})") from None
    return inventory


def check_object(folder: Path) -> list[str]:
    """What is wrong with an object's files (empty: every file its inventory names is there
    with its digest, the inventory and each version's copy of it agree with their sidecars
    and with each other, and nothing else was added: no file, folder or link)."""
    try:
        inventory = read_inventory(folder)
        problems = _inventories(folder, inventory)
        for path, digest in sorted(inventory.manifest.items()):
            target = folder / path
            if target.is_symlink() or not target.is_file():
                problems.append(f"{path}: missing")
            elif sha512_file(target) != digest:
                problems.append(f"{path}: changed")
    except ObjectDamaged as exc:
        return [exc.reason]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"{INVENTORY} is not an OCFL inventory ({type(exc).__name__})"]
    versions = set(inventory.data["versions"])
    known = set(inventory.manifest) | {OBJECT_DECLARATION, INVENTORY, f"{INVENTORY}.{ALGORITHM}"}
    known |= {f"{v}/{INVENTORY}" for v in versions} | {f"{v}/{INVENTORY}.{ALGORITHM}"
                                                      for v in versions}
    folders = {parent.as_posix() for path in known for parent in Path(path).parents} - {"."}
    for path, kind in _entries(folder):
        if kind == "link":
            problems.append(f"{path}: a symbolic link")
        elif (kind == "file" and path not in known) or (kind == "dir" and path not in folders):
            problems.append(f"{path}{'/' if kind == 'dir' else ''}: not in the inventory")
    return problems


def _inventories(folder: Path, inventory: Inventory) -> list[str]:
    """The root inventory against its sidecar, and each version's inventory against its own
    and against the root's record of the versions up to it."""
    problems = []
    for where, raw in [(folder, inventory.raw), *[
            (folder / v, None) for v in sorted(inventory.data["versions"])]]:
        path = where / INVENTORY
        if raw is None:
            if not path.is_file():
                problems.append(f"{path.relative_to(folder)}: missing")
                continue
            raw = path.read_bytes()
            said = json.loads(raw)
            head = said["head"]
            root_versions = inventory.data["versions"]
            if head == inventory.head and raw != inventory.raw:
                problems.append(f"{head}/{INVENTORY} is not the object's inventory")
            elif any(said["versions"].get(v) != root_versions.get(v) for v in said["versions"]) \
                    or head not in root_versions:
                problems.append(f"{head}/{INVENTORY} disagrees with the object's inventory")
        sidecar = where / f"{INVENTORY}.{ALGORITHM}"
        said_digest = sidecar.read_text(encoding="utf-8").split()[0] if sidecar.is_file() else ""
        if said_digest != hashlib.sha512(raw).hexdigest():
            problems.append(f"{path.relative_to(folder)} does not match {sidecar.name}")
    return problems


def _files(folder: Path) -> list[str]:
    return [path for path, kind in _entries(folder) if kind == "file"]


def _entries(folder: Path) -> list[tuple[str, str]]:
    """Every file, folder and link under ``folder`` (links are reported, never followed)."""
    found = []
    for parent, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(parent) / name
            kind = "link" if path.is_symlink() else "dir" if name in dirs else "file"
            found.append((path.relative_to(folder).as_posix(), kind))
    return found


def create_object(record_id: str, source: Path, target: Path, message: str) -> Inventory:
    """Make ``target`` an OCFL object whose first version holds the files under ``source``,
    with their names as they are. ``target`` must not exist."""
    ocfl = _ocfl()
    metadata = ocfl.VersionMetadata(message=message, name=USER["name"],
                                    address=USER["address"])
    ocfl.Object(identifier=record_id, content_path_normalization=None).create(
        srcdir=str(source), metadata=metadata, objdir=str(target))
    return read_inventory(target)


def add_version(folder: Path, source: Path, message: str) -> Inventory:
    """Add a version to the object at ``folder`` (a staged copy: the caller swaps it in) in
    which every file under ``source`` replaces or adds the file of that logical path, and
    every other file is carried forward."""
    ocfl = _ocfl()
    record_id = read_inventory(folder).id
    metadata = ocfl.VersionMetadata(message=message, name=USER["name"],
                                    address=USER["address"])
    obj = ocfl.Object(identifier=record_id, content_path_normalization=None)
    new = obj.start_new_version(objdir=str(folder), srcdir=str(source), metadata=metadata,
                                carry_content_forward=True)
    current = set(new.inventory.current_version.logical_paths)
    for logical in sorted(_files(source)):
        if logical in current:
            new.delete(logical)
        new.add(logical, logical, content_path=f"{new.inventory.head}/content/{logical}")
    obj.write_new_version(new)
    return read_inventory(folder)


def _ocfl() -> ModuleType:
    """ocfl-py, imported without what its import does to logging: a library it loads
    (pairtree) calls ``logging.basicConfig(level=INFO)``, after which every new version of a
    record printed an INFO line on a command's stderr."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import ocfl

    root.handlers[:], root.level = handlers, level
    return ocfl


def init_storage_root(archive: Path) -> None:
    """Make ``archive`` an OCFL 1.1 storage root (flat direct layout) if it is not one. The
    folder may exist already (a mount point): only the two declaration files are written."""
    if (archive / ROOT_DECLARATION).is_file():
        return
    archive.mkdir(parents=True, exist_ok=True)
    layout = {"description": "Extension 0002: Flat Direct Storage Layout", "extension": LAYOUT}
    # Atomically, each writer with a temporary file of its own: several processes, and the
    # threads of one batch, may make the root at once (with the same bytes). A name made
    # from the process id alone was shared by the threads, and one's rename took the other's
    # file away (FileNotFoundError in a batch's first two commits).
    write_atomic(archive / "ocfl_layout.json",
                 json.dumps(layout, sort_keys=True, indent=2).encode())
    write_atomic(archive / ROOT_DECLARATION, b"ocfl_1.1\n")  # last: it marks the root as made
