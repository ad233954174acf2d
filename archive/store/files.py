"""Small file primitives every write of the archive goes through: atomic, checked, read-only."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from ocr.inputs import sha256_file

__all__ = ["copy_tree_verified", "copy_verified", "make_read_only", "sha256_file",
           "write_atomic", "write_json"]


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


def make_read_only(root: Path) -> None:
    """Committed records are write-once: files r--r--r--, folders r-xr-xr-x."""
    for path in sorted(root.rglob("*"), reverse=True):
        mode = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if path.is_dir():
            mode |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        path.chmod(mode)
    root.chmod(0o555)
