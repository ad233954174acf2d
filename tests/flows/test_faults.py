"""Faults during a real batch: the disk fills, Tesseract crashes, the catalog is locked.

Each ends the same way: the documents it hit are reported with a reason a records officer
can act on, nothing half-written is left, the originals are untouched, the rest of the batch
is archived, and queueing the batch again finishes the work.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive.index import Catalog
from archive.store import check_object
from config.settings import load_settings
from flows.digitise import digitise_batch
from tests.conftest import Scans
from tests.waiting import wait_until


@pytest.fixture
def batch(tmp_path: Path, scans: Scans) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    for seed in (41, 42):
        page, _ = scans.page("eng", seed=seed)
        (folder / f"letter-{seed}.png").write_bytes(page.read_bytes())
    (folder / "empty.pdf").write_bytes(b"")
    return folder


def _run(batch: Path, batch_id: str) -> dict[str, dict]:
    report = digitise_batch(paths=[str(batch)], batch_id=batch_id, unit="VP",
                            languages="eng").to_dict()
    return {d["source"]: d for d in report["documents"]}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _records(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "archive").iterdir()
                  if p.is_dir() and p.name not in ("extensions", "lost+found"))


def _catalogued(home: Path) -> int:
    with sqlite3.connect(home / "catalog.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM records").fetchone()[0])


@contextmanager
def _small_disk(mount_point: Path, size: str) -> Iterator[None]:
    """A size-limited tmpfs over ``mount_point``; skipped (with the reason) where not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount_point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                           str(mount_point)], capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    stats = os.statvfs(folder)
    filler = folder / "filler.bin"
    with filler.open("wb") as out:
        out.truncate(0)
        remaining = stats.f_bavail * stats.f_frsize - leave
        while remaining > 0:
            remaining -= out.write(b"\0" * min(remaining, 1 << 20))
    return filler


@pytest.mark.flow
def test_disk_full_while_storing_keeps_nothing_half_and_resumes(batch: Path, home: Path) -> None:
    originals = _files(batch)
    with _small_disk(home / "archive", "16m"):
        filler = _fill(home / "archive", leave=96 * 1024)  # less than any signed copy
        first = _run(batch, "B-full-1")
        for name in ("letter-41.png", "letter-42.png"):
            assert first[name]["status"] == "failed"
            assert first[name]["reason"].startswith("no space left on the disk")
            assert "queue the batch again" in first[name]["reason"]
        assert first["empty.pdf"]["status"] == "quarantined"  # the rest of the batch went on
        assert _records(home) == []
        assert list((home / "archive" / "extensions" / "records-staging").iterdir()) == []
        assert _catalogued(home) == 0
        filler.unlink()
        again = _run(batch, "B-full-2")
        archived = [d for d in again.values() if d["status"] == "archived"]
        assert len(archived) == 2 and _records(home) == sorted(d["record_id"] for d in archived)
        assert all(check_object(home / "archive" / d["record_id"]) == [] for d in archived)
        assert _catalogued(home) == 2
    assert _files(batch) == originals


@pytest.mark.flow
def test_a_tesseract_crash_fails_one_document_and_a_rerun_finishes(
        batch: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first recognition crashes (SIGSEGV); the other letter is archived regardless."""
    fake = tmp_path / "bin"
    fake.mkdir()
    marker = tmp_path / "crashed-once"
    (fake / "tesseract").write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" alto "*) if mkdir "{marker}" 2>/dev/null; then kill -SEGV $$; fi;; '
        "esac\n"
        '[ -n "$RECORDS_REAL_TESSERACT" ] && exec "$RECORDS_REAL_TESSERACT" "$@"\n',
        encoding="utf-8")
    (fake / "tesseract").chmod(0o755)
    monkeypatch.setenv("RECORDS_REAL_TESSERACT", "/usr/bin/tesseract")
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    originals = _files(batch)
    first = _run(batch, "B-crash-1")
    crashed = [d for d in first.values() if d["status"] == "failed"]
    assert [d["reason"] for d in crashed] == ["Tesseract crashed (SIGSEGV) on the page"]
    assert len([d for d in first.values() if d["status"] == "archived"]) == 1
    assert len(_records(home)) == 1 and _catalogued(home) == 1
    again = _run(batch, "B-crash-2")
    assert again[crashed[0]["source"]]["status"] == "archived"
    assert len(_records(home)) == 2 and _catalogued(home) == 2
    assert _files(batch) == originals


@pytest.mark.flow
def test_a_catalog_locked_by_another_program_is_waited_for(batch: Path, home: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Another program holds the catalog's write lock from before the batch starts until
    well after both records were committed to the archive, the step before their catalog
    rows. With a busy timeout of 1 s, their first writes have failed by then: the rows can
    only come from the task's retries, and the batch still ends with both archived."""
    monkeypatch.setenv("RECORDS_CATALOG__BUSY_TIMEOUT_SECONDS", "1")
    Catalog.open(load_settings().catalog_url())
    retries = _Messages()
    logging.getLogger("prefect.task_runs").addHandler(retries)
    holder = sqlite3.connect(home / "catalog.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # fails at once if the lock cannot be had
    outcome: dict[str, dict] = {}
    runner = threading.Thread(target=lambda: outcome.update(_run(batch, "B-locked")))
    runner.start()
    try:
        wait_until(lambda: not runner.is_alive() or (
            (home / "archive").is_dir() and len(_records(home)) == 2),
            "both records committed", 600)
        assert runner.is_alive(), "the batch ended before both records were committed"
        time.sleep(4.0)  # four busy timeouts: every write tried so far has failed
        assert runner.is_alive(), "the batch ended while the catalog was still locked"
        assert _catalogued(home) == 0  # WAL: readers see that nothing was written
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    runner.join(300)
    logging.getLogger("prefect.task_runs").removeHandler(retries)
    assert not runner.is_alive(), "the batch did not finish within 5 minutes of the release"
    assert sorted(d["status"] for d in outcome.values()) == ["archived", "archived",
                                                             "quarantined"]
    assert _catalogued(home) == 2
    assert any("database is locked" in m and "Retry 1/4" in m for m in retries.seen), \
        retries.seen


class _Messages(logging.Handler):
    """Keeps the messages logged to it, whole (a console would wrap them)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())
