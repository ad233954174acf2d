"""Small file primitives every write of the archive goes through: atomic, checked, read-only."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ocr.inputs import sha256_file

__all__ = ["copy_tree_verified", "copy_verified", "exchange_paths", "make_read_only",
           "sha256_file", "write_atomic", "write_json"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h


def exchange_paths(one: Path, other: Path) -> bool:
    """Swap two paths in one step (Linux's renameat2 with RENAME_EXCHANGE), so that a reader
    of either always finds something there; return False, changing nothing, where the kernel,
    the C library or the file system cannot (the caller then renames twice)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library without it (before glibc 2.28)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(one), _AT_FDCWD, os.fsencode(other),
                 _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOENT, errno.ENOTDIR):  # nothing to swap: the caller's mistake
        raise OSError(code, os.strerror(code), str(one))
    # Anything else (no such call, a file system that cannot swap, a sandbox that forbids it)
    # changed nothing: the caller falls back to renames, which fail on their own if they must.
    return False


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False, default=str).encode())


def copy_verified(source: Path, dest: Path) -> str:
    """Copy a file byte for byte and prove it by checksum; return the sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest, follow_symlinks=False)
    original, copied = sha256_file(source), sha256_file(dest)
    if original != copied:
        raise OSError(f"copy of {source.name} does not match the original")
    return copied


def copy_tree_verified(source: Path, dest: Path) -> dict[str, str]:
    """Copy a file or a folder (links are not followed); return relative name -> sha256."""
    if source.is_file() and not source.is_symlink():
        return {source.name: copy_verified(source, dest / source.name)}
    sums: dict[str, str] = {}
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink():
            relative = path.relative_to(source.parent).as_posix()
            sums[relative] = copy_verified(path, dest / relative)
    return sums


# records' files are its user's alone, whatever the umask: the archive holds secret records.
READ_ONLY_FILE = 0o400  # a committed record's files: write-once
READ_ONLY_DIR = 0o500
WRITABLE_FILE = 0o600  # a copy being changed (a new version in staging)
WRITABLE_DIR = 0o700


# What records keeps in its home. The home itself is left as it is: a hot folder for the
# scanning stations may live in it (docs/deploy.md), and that is the stations' as well.
PRIVATE_ENTRIES = ("archive", "log", "work", "audit", "batches", "quarantine", "cache", "tmp",
                   "prefect", "prefect-server", "web", "keys", "reports", "roadmap", "demo",
                   "uploads",
                   "catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.search",
                   "checks.jsonl")


def keep_private(home: Path) -> Path:
    """Make what this process writes its user's alone, and what records keeps in the home.

    The umask is the process's: every entry point (the command line, the web app, a flow run
    by a worker) calls this before it writes, so the catalog (every page's text, secret ones
    included), its WAL, the audit log of users' queries and the page cache are 0600 whatever
    umask the service was started with. Entries made earlier with wider modes are closed
    (a folder 0700 keeps everything under it from other users). One that cannot be changed
    (another owner's mount point) is left as the administrator made it.
    """
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True)
    for name in PRIVATE_ENTRIES:
        path = home / name
        try:
            mode = path.lstat().st_mode
            if mode & 0o077 and not path.is_symlink():
                path.chmod(WRITABLE_DIR if path.is_dir() else WRITABLE_FILE)
        except (FileNotFoundError, PermissionError):
            continue
    return home


def make_read_only(root: Path) -> None:
    """Committed records are write-once and private: files r--------, folders r-x------."""
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(READ_ONLY_DIR if path.is_dir() else READ_ONLY_FILE)
    root.chmod(READ_ONLY_DIR)


def make_writable(root: Path) -> None:
    """A copy of a record (or the record's folder itself) made changeable by its owner."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(WRITABLE_DIR if path.is_dir() else WRITABLE_FILE)
