"""The hot folder: batch folders that scanning stations drop into an inbox, taken when ready.

A station writes each batch as one folder directly inside the inbox. The watcher cannot know
when a station has finished writing, so a folder is taken when the station says so (a file
named ``READY`` in it) or when nothing in it has changed for a while. It is then moved, not
copied, into ``INBOX/.queued`` (one rename on one filesystem: the station never sees half a
move, and a batch is taken once), checked there, and queued. What must not be queued goes to
``INBOX/.refused`` and what failed to ``INBOX/.failed``, each beside a ``<name>.reason.txt``
written for the records officer.

Nothing here follows a symbolic link: a link in a batch could make the archive ingest any file
the service can read, so links are reported, never opened. This module has no Prefect in it:
the watcher runs ``records queue`` as a subprocess for each batch (see ``records.cli.watch``).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from archive.store import write_atomic
from config.errors import UsageError

MARKER = "READY"
QUEUED, REFUSED, FAILED = ".queued", ".refused", ".failed"
HOLDING = (QUEUED, REFUSED, FAILED)
LOCK = ".watch.lock"
MAX_LISTED = 20  # problems listed in a reason file; a folder of 5000 links needs no 5000 lines


class InboxError(UsageError):
    """The inbox itself cannot be watched (not a folder, a holding folder replaced, in use)."""


@dataclass(frozen=True, order=True)
class Entry:
    """One thing in a batch folder as ``lstat`` sees it: enough to notice any change."""

    path: str  # relative to the batch folder, "/"-separated; "" is the folder itself
    kind: str  # dir, file, link, fifo, socket, device, other, or unreadable (a folder)
    size: int = 0
    mtime_ns: int = 0
    target: str = ""  # where a link points, read and never followed


@dataclass(frozen=True)
class Snapshot:
    """The state of a batch folder; equal snapshots mean nothing changed in between."""

    top: Entry
    entries: tuple[Entry, ...] = ()

    @property
    def marked(self) -> bool:
        """The station put a ``READY`` file in it: it has finished writing."""
        return any(e.path == MARKER and e.kind == "file" for e in self.entries)

    @property
    def empty(self) -> bool:
        """A folder that holds no file yet (subfolders and the marker aside): a station may
        make the folder well before the scanner delivers its first page, so it is not stable."""
        return self.top.kind == "dir" and all(e.kind == "dir" or e.path == MARKER
                                              for e in self.entries)


@dataclass(frozen=True)
class Ready:
    """A batch folder that may be taken, and why (for the log)."""

    folder: Path
    why: str


@dataclass(frozen=True)
class Scan:
    """What one look at the inbox found."""

    found: list[Path] = field(default_factory=list)  # batch folders seen for the first time
    ready: list[Ready] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # files dropped loose, reported once


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def _entry(relative: str, info: os.stat_result, path: str) -> Entry:
    kind = _kind(info.st_mode)
    target = ""
    if kind == "link":
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
    size = info.st_size if kind in ("file", "link") else 0
    return Entry(relative, kind, size, info.st_mtime_ns, target)


def _walk(folder: str, prefix: str) -> Iterator[Entry]:
    try:
        with os.scandir(folder) as listing:
            children = list(listing)
    except FileNotFoundError:  # removed while we looked: the next snapshot differs anyway
        return
    except OSError:
        yield Entry(prefix.rstrip("/"), "unreadable")
        return
    for child in children:
        relative = prefix + child.name
        try:
            info = child.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        entry = _entry(relative, info, child.path)
        yield entry
        if entry.kind == "dir":
            yield from _walk(child.path, relative + "/")


def snapshot(folder: Path) -> Snapshot:
    """Names, kinds, sizes and mtimes of everything in *folder*, recursively, links unfollowed.

    Raises FileNotFoundError when the folder itself is gone (a station took it back).
    """
    top = _entry("", os.lstat(folder), str(folder))
    entries = tuple(sorted(_walk(str(folder), ""))) if top.kind == "dir" else ()
    return Snapshot(top, entries)


def problems(folder: Path, inbox: Path) -> list[str]:
    """Why this batch folder must not be queued, in an officer's words; empty if it may be.

    Only regular files and folders belong in a batch: a link could pull in any file the
    service can read, a FIFO would hang the reader, sockets and devices hold no scan.
    """
    try:
        shot = snapshot(folder)
    except FileNotFoundError:
        return ["it is gone: it was moved or deleted while it was being taken"]
    found: list[str] = []
    if shot.top.kind == "link":
        found.append(f"is a symbolic link to {shot.top.target}, not a folder; a station must "
                     "drop the batch folder itself, since a link could pull files from anywhere")
    elif shot.top.kind != "dir":
        found.append("is not a folder; a station must drop each batch as a folder")
    try:
        real = folder.resolve()
        if not real.is_relative_to(inbox.resolve()):
            found.append(f"lies outside the inbox (its real location is {real}); only folders "
                         "inside the inbox are taken")
    except (OSError, RuntimeError):  # RuntimeError: a loop of links (Python 3.11)
        found.append("its real location cannot be found (its links go round in a loop)")
    found += [text for entry in shot.entries if (text := _problem(entry))]
    if not found and shot.empty:
        found.append("holds no files: there is nothing in it to queue")
    return found


def _problem(entry: Entry) -> str | None:
    name = entry.path or "the folder itself"
    texts = {
        "link": f"contains a symbolic link: {name} -> {entry.target}; links could pull files "
                "from outside the batch",
        "fifo": f"contains a named pipe (FIFO): {name}; it is not a file, and reading it "
                "could stall the batch forever",
        "socket": f"contains a socket: {name}; it is not a file and holds no scan",
        "device": f"contains a device file: {name}; it is not a file, and reading it would "
                  "read the machine's hardware",
        "other": f"contains {name}, which is neither a file nor a folder",
        "unreadable": f"cannot be read: {name} (permission denied), so what it holds cannot "
                      "be checked",
    }
    return texts.get(entry.kind)


def listing(inbox: Path) -> tuple[list[Path], list[Path]]:
    """The inbox's batch candidates (folders, and links, which are refused later) and the
    loose files in it, each in name order. Hidden names (the holding folders) are skipped."""
    folders: list[Path] = []
    loose: list[Path] = []
    with os.scandir(inbox) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() or entry.is_dir(follow_symlinks=False):
                folders.append(inbox / entry.name)
            else:
                loose.append(inbox / entry.name)
    return sorted(folders), sorted(loose)


@dataclass
class _Seen:
    snapshot: Snapshot
    since: float  # when this snapshot was first seen, on the caller's clock


class Inbox:
    """Remembers each batch folder's last snapshot and since when it has not changed.

    The clock is the caller's (``time.monotonic()`` in the watcher, plain numbers in tests):
    a folder is stable once the same snapshot has been seen for *stable* seconds. The first
    sighting starts the count: nothing tells when a folder last changed before we looked
    (copy tools preserve mtimes), so with ``stable=0`` a folder is ready when first seen.
    """

    def __init__(self, root: Path, stable: float) -> None:
        self.root = root
        self.stable = stable
        self._seen: dict[str, _Seen] = {}
        self._ignored: set[str] = set()

    def scan(self, now: float) -> Scan:
        """Look at the inbox once: folders new to us, folders ready, loose files new to us."""
        folders, loose = listing(self.root)
        names = {folder.name for folder in folders}
        for gone in set(self._seen) - names:
            del self._seen[gone]
        self._ignored &= {path.name for path in loose}
        scan = Scan()
        for path in loose:
            if path.name not in self._ignored:
                self._ignored.add(path.name)
                scan.ignored.append(path)
        for folder in folders:
            try:
                shot = snapshot(folder)
            except FileNotFoundError:
                self._seen.pop(folder.name, None)
                continue
            seen = self._seen.get(folder.name)
            if seen is None:
                scan.found.append(folder)
            if seen is None or seen.snapshot != shot:
                seen = self._seen[folder.name] = _Seen(shot, now)
            why = self._why_ready(seen, now)
            if why:
                scan.ready.append(Ready(folder, why))
        return scan

    def _why_ready(self, seen: _Seen, now: float) -> str | None:
        if seen.snapshot.marked:
            return f"it holds a {MARKER} file"
        if seen.snapshot.empty:
            return None
        if now - seen.since >= self.stable:
            return f"nothing in it changed for {self.stable:g} s"
        return None

    def forget(self, folder: Path) -> None:
        """A folder was taken: a new one of the same name starts its count afresh."""
        self._seen.pop(folder.name, None)

    @property
    def waiting(self) -> list[str]:
        """Names of folders seen but not taken (yet)."""
        return sorted(self._seen)


def holding(inbox: Path, name: str) -> Path:
    """``INBOX/<name>`` (.queued, .refused, .failed), made if missing.

    Refuses anything there but a real folder: a link in its place would make every rename
    move batches out of the inbox, wherever the link points.
    """
    path = inbox / name
    try:
        path.mkdir()
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise InboxError(f"{path} must be a folder (the watcher makes it), but it is a link "
                             "or a file; remove it and start again") from None
    return path


def reason_path(folder: Path) -> Path:
    """Where a refused or failed batch's explanation lies: beside it, ``<name>.reason.txt``."""
    return folder.with_name(f"{folder.name}.reason.txt")


def claim(folder: Path, into: Path, name: str | None = None) -> Path:
    """Move *folder* into *into* as *name* (its own name by default), suffixed ``-2``,
    ``-3``… when taken; return where it went.

    ``os.rename`` within one filesystem is atomic and moves a link as a link. A name is taken
    when anything has it (a dangling link too), or its reason file: renaming a folder onto an
    empty folder would silently replace it. Only one watcher renames into a holding folder
    (see ``watching``), so nothing takes the name between the check and the rename.
    """
    base = name or folder.name
    for number in itertools.count(1):
        target = into / (base if number == 1 else f"{base}-{number}")
        if not os.path.lexists(target) and not os.path.lexists(reason_path(target)):
            os.rename(folder, target)
            return target
    raise AssertionError("unreachable")


def set_aside(folder: Path, into: Path, reason: str, name: str | None = None) -> Path:
    """Move a batch into .refused or .failed and write its reason beside it; return it."""
    target = claim(folder, into, name)
    write_atomic(reason_path(target), reason.encode("utf-8"))
    return target


def remove_marker(folder: Path) -> bool:
    """Remove the station's ``READY`` file so that it is not taken for a record."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    marker.unlink()
    return True


@contextmanager
def watching(inbox: Path) -> Iterator[None]:
    """Hold ``INBOX/.watch.lock`` while watching: two watchers would race for one batch."""
    fd = os.open(inbox / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InboxError(f"another `records watch` is already taking batches from {inbox}") \
            from None
    try:
        yield
    finally:
        os.close(fd)


def refusal_text(name: str, found: list[str]) -> str:
    """The reason file of a refused batch, for the records officer."""
    listed = [f"- {text}" for text in found[:MAX_LISTED]]
    if len(found) > MAX_LISTED:
        listed.append(f"- … and {len(found) - MAX_LISTED} more of the same kind")
    return (f"The batch folder \"{name}\" was not queued, because it\n" + "\n".join(listed)
            + "\n\nNothing in it was changed. A batch must hold only real files and folders. "
            "To queue it, put the files themselves in place of what is listed above and move "
            "the folder back into the inbox.\n")
