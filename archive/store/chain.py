"""Append-only JSON-lines logs whose lines are hash-chained: tampering shows.

Each line carries ``previous``, the SHA-256 of the line before it (zeros for the first).
Deleting, inserting, reordering or editing a line breaks the chain at that point, which
:meth:`ChainedLog.check` reports. Appends are serialised with a file lock, so several
processes (or machines on a POSIX shared folder) can write one log. Cutting lines off the
*end*, or rewriting a line and every line after it, leaves a valid chain: that is caught by
the signed heads of the archive's log, which record each chained log's length and last hash
(``archive.store.archivelog``), or by a head kept elsewhere (``records audit verify --head``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainedLog:
    """One hash-chained JSON-lines log at ``path`` (made on the first append)."""

    path: Path

    def append(self, entry: dict[str, Any]) -> str:
        """Add one entry after the last line; return the new line's hash (the log's head).

        A last line left half-written (a crash, a full disk) is ended first, so the new entry
        is never glued onto it; the damaged line stays, for :meth:`check` to name."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            last = _last_line(handle)
            previous = hashlib.sha256(last).hexdigest() if last else GENESIS
            line = json.dumps({**entry, "previous": previous}, ensure_ascii=False,
                              sort_keys=True).encode()
            handle.seek(0, os.SEEK_END)
            ended = handle.tell() == 0 or _ends_a_line(handle)
            handle.write((b"" if ended else b"\n") + line + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return hashlib.sha256(line).hexdigest()

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines() if self.path.is_file() else []

    def read(self) -> list[dict[str, Any]]:
        """The entries, in order; a damaged line (not a JSON entry) is left out (``check``
        names it)."""
        return [entry for line in self.lines() if (entry := _entry(line)) is not None]

    def check(self) -> tuple[list[str], str]:
        """Where the chain is broken (empty: intact), and the hash of its last line."""
        problems, previous = [], GENESIS
        for number, line in enumerate(self.lines(), start=1):
            entry = _entry(line)
            if entry is None:
                problems.append(f"line {number} is damaged: not a JSON entry")
            elif entry.get("previous") != previous:
                problems.append(f"line {number} does not follow line {number - 1}")
            previous = hashlib.sha256(line).hexdigest()
        return problems, previous

    def head_at(self, entries: int) -> str | None:
        """The hash of line ``entries`` (GENESIS for 0): what a signed head of the log's
        first ``entries`` lines recorded. None when the log is shorter."""
        lines = self.lines()
        if entries > len(lines):
            return None
        return hashlib.sha256(lines[entries - 1]).hexdigest() if entries else GENESIS


def _entry(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _ends_a_line(handle: BinaryIO) -> bool:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1) == b"\n"


def _last_line(handle: BinaryIO, block: int = 1 << 16) -> bytes:
    """The file's last non-empty line, read from the end: an append costs the same on the
    first day and after decades of entries (reading the whole log grew with it: 10 ms at
    14,000 entries, measured by bench/load.py)."""
    end = handle.seek(0, os.SEEK_END)
    tail, start = b"", end
    while start > 0:
        start = max(0, start - block)
        handle.seek(start)
        tail = handle.read(end - start)
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped or start == 0:
            return stripped.rsplit(b"\n", 1)[-1]
    return b""
