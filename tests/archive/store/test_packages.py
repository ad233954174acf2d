"""Records are committed whole, write-once, once per content; quarantine keeps originals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from archive.intake import quarantine_document
from archive.store import (
    ArchiveLog,
    Leaf,
    ObjectChanged,
    RecordPaths,
    check_object,
    new_version,
    read_inventory,
    recover,
    sha256_file,
    store_record,
)


def _inputs(tmp_path: Path) -> dict:
    source = tmp_path / "scan-folder"
    source.mkdir(parents=True)
    (source / "page-1.png").write_bytes(b"pixels-1")
    (source / "page-2.png").write_bytes(b"pixels-2")
    page = tmp_path / "page-cache"
    page.mkdir()
    for name in ("page.txt", "page.xml", "page.hocr"):
        (page / name).write_text(f"{name} Quyết định")
    pdf = tmp_path / "made.pdf"
    pdf.write_bytes(b"%PDF-1.7 archival")
    return {"source": source, "pdf": pdf, "page_dirs": [page, page],
            "sidecar": {"descriptive": {"title": "t"}}}


def test_new_ids_pass_records_the_counter_does_not_know(tmp_path: Path) -> None:
    """Records stored with their own ids (imported, migrated) or a work folder lost: the next
    new scans get the next free id, never one a record already holds (which would make them a
    "duplicate" of an unrelated record, and archive nothing)."""
    archive = tmp_path / "archive"
    first = store_record(archive, content_sha="b" * 64, unit="VP", year=2024,
                         record_id="VP-2024-000001", **_inputs(tmp_path / "1"))
    other = store_record(archive, content_sha="c" * 64, unit="VP", year=2024,
                         **_inputs(tmp_path / "2"))
    assert (first.record_id, other.record_id) == ("VP-2024-000001", "VP-2024-000002")
    assert not other.duplicate
    shutil.rmtree(tmp_path / "work")  # the counter lost: a restore of the archive alone
    third = store_record(archive, content_sha="d" * 64, unit="VP", year=2024,
                         **_inputs(tmp_path / "3"))
    assert third.record_id == "VP-2024-000003" and not third.duplicate


def test_commit_is_whole_read_only_and_checksummed(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    stored = store_record(archive, content_sha="a" * 64, unit="Tổng cục CT", year=2024,
                          **_inputs(tmp_path))
    assert stored.record_id == "TONGCUCCT-2024-000001"
    record = RecordPaths(stored.path, stored.record_id)
    assert record.pdf.read_bytes() == b"%PDF-1.7 archival"
    assert record.pdf == stored.path / "v1" / "content" / f"{stored.record_id}.pdf"
    assert sorted(p for p in record.inventory.state() if p.startswith("pages/")) == [
        "pages/0001.alto.xml", "pages/0001.hocr", "pages/0001.txt", "pages/0002.alto.xml",
        "pages/0002.hocr", "pages/0002.txt"]
    sidecar = json.loads(record.sidecar.read_text())
    assert sidecar["originals"]["scan-folder/page-1.png"] == sha256_file(
        tmp_path / "scan-folder" / "page-1.png")
    assert check_object(stored.path) == []
    assert not os.access(record.sidecar, os.W_OK) or os.geteuid() == 0
    assert record.sidecar.stat().st_mode & 0o222 == 0
    assert not list((archive / "extensions" / "records-staging").iterdir())
    inventory = read_inventory(stored.path)
    [leaf] = ArchiveLog(tmp_path).read().leaves  # the version is in the archive's log
    assert (leaf.record_id, leaf.version, leaf.inventory_sha512) == (
        stored.record_id, "v1", inventory.sha512)


def test_same_content_is_one_record(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    first = store_record(archive, content_sha="b" * 64, unit="VP", year=2024, **_inputs(tmp_path))
    second = store_record(archive, content_sha="b" * 64, unit="VP", year=2024,
                          **_inputs(tmp_path / "x"))
    assert second.duplicate and second.record_id == first.record_id == "VP-2024-000001"
    third = store_record(archive, content_sha="c" * 64, unit="VP", year=2024,
                         **_inputs(tmp_path / "y"))
    assert third.record_id == "VP-2024-000002" and not third.duplicate


def test_scans_committed_by_another_process_while_built_are_a_duplicate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes queue the same scans: both reserve its one id, both build the record,
    and the other commits first, between this one's check and its rename. This one's build
    is dropped and the record named as a duplicate (it once failed on the folder's rename,
    "Directory not empty", and the batch with it)."""
    archive = tmp_path / "archive"
    import archive.store.packages as store
    build = store.create_object

    def the_other_commits_first(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(store, "create_object", build)
        store_record(archive, content_sha="e" * 64, unit="VP", year=2024,
                     record_id="VP-2024-000001", **_inputs(tmp_path / "other"))
        return build(*args, **kwargs)

    monkeypatch.setattr(store, "create_object", the_other_commits_first)
    mine = store_record(archive, content_sha="e" * 64, unit="VP", year=2024,
                        record_id="VP-2024-000001", **_inputs(tmp_path / "mine"))
    assert mine.duplicate and mine.record_id == "VP-2024-000001"
    assert check_object(mine.path) == []
    assert [leaf.record_id for leaf in ArchiveLog(tmp_path).read().leaves] == ["VP-2024-000001"]
    assert not list((archive / "extensions" / "records-staging").iterdir())
    assert not list((tmp_path / "work" / "intents").glob("*.json"))


def test_crash_during_commit_leaves_no_record_and_rerun_reuses_the_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "archive"
    inputs = _inputs(tmp_path)
    import archive.store.packages as store

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "create_object", disk_full)
    with pytest.raises(OSError, match="No space"):
        store_record(archive, content_sha="d" * 64, unit="VP", year=2024, **inputs)
    assert not list(archive.glob("VP-*"))
    assert not list((archive / "extensions" / "records-staging").iterdir())
    assert ArchiveLog(tmp_path).read().leaves == []
    monkeypatch.undo()
    again = store_record(archive, content_sha="d" * 64, unit="VP", year=2024, **inputs)
    assert again.record_id == "VP-2024-000001" and not again.duplicate


ROOT = Path(__file__).resolve().parents[3]
_KILLER = """
import os, signal, sys
from pathlib import Path
import archive.store.packages as store
from tests.archive.store.test_packages import _inputs

point, tmp = sys.argv[1], Path(sys.argv[2])

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "staged":  # the object is built in staging; the commit has not begun
    store.commit_object = die
elif point == "renaming":  # the intent is written; the staged object is being renamed
    rename = Path.rename
    Path.rename = lambda self, target: (die() if Path(target).name.startswith("VP-")
                                        else rename(self, target))
elif point == "logging":  # the object is in place; its log entry is being written
    store.ArchiveLog.append = die
store.store_record(tmp / "archive", content_sha="d" * 64, unit="VP", year=2024,
                   **_inputs(tmp))
print("the commit finished: the kill point was never reached")
"""


@pytest.mark.parametrize("point", ["staged", "renaming", "logging"])
def test_kill_9_during_commit_leaves_no_half_record_and_a_rerun_finishes_it(
        tmp_path: Path, point: str) -> None:
    """A real SIGKILL at each step of a commit, in a process of its own: no cleanup runs.
    Whatever was left, no half record is visible: the object is absent or whole, and the
    next run (recover, then the same store) ends with the record whole, under the id its
    content reserved, logged once."""
    killed = subprocess.run([sys.executable, "-c", _KILLER, point, str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    archive = tmp_path / "archive"
    record = archive / "VP-2024-000001"
    if point == "logging":
        assert check_object(record) == []  # renamed into place whole
    else:
        assert not record.exists()
    intent = tmp_path / "work" / "intents" / "VP-2024-000001.json"
    assert intent.exists() == (point != "staged")  # the kill came where it was meant to
    recover(archive)
    again = store_record(archive, content_sha="d" * 64, unit="VP", year=2024,
                         **_inputs(tmp_path / "rerun"))
    assert again.record_id == "VP-2024-000001" and check_object(record) == []
    assert again.duplicate == (point == "logging")
    assert [leaf.record_id for leaf in ArchiveLog(tmp_path).read().leaves] == [
        "VP-2024-000001"]
    assert not list((tmp_path / "work" / "intents").glob("*.json"))


def test_tampering_is_detected(tmp_path: Path) -> None:
    stored = store_record(tmp_path / "a", content_sha="e" * 64, unit="VP", year=2024,
                          **_inputs(tmp_path))
    target = RecordPaths(stored.path, stored.record_id).file("pages/0001.txt")
    assert target is not None
    target.chmod(0o644)
    target.write_text("rewritten")
    (stored.path / "v1" / "content" / "added.txt").write_text("slipped in")
    assert check_object(stored.path) == ["v1/content/pages/0001.txt: changed",
                                         "v1/content/added.txt: not in the inventory"]


def test_a_commit_cut_short_before_its_log_entry_is_logged_by_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 between the rename and the log entry: the intent written before the rename
    lets the next run log exactly that version, once."""
    archive = tmp_path / "archive"
    import archive.store.packages as store

    def killed(*_: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(store.ArchiveLog, "append", killed)
    with pytest.raises(SystemExit):
        store_record(archive, content_sha="f" * 64, unit="VP", year=2024, **_inputs(tmp_path))
    monkeypatch.undo()
    assert (archive / "VP-2024-000001").is_dir() and ArchiveLog(tmp_path).read().leaves == []
    assert recover(archive) == ["VP-2024-000001"]
    assert recover(archive) == []  # done once
    [leaf] = ArchiveLog(tmp_path).read().leaves
    assert leaf.inventory_sha512 == read_inventory(archive / "VP-2024-000001").sha512


def test_quarantine_copies_and_explains(tmp_path: Path) -> None:
    bad = tmp_path / "batch" / "broken.tif"
    bad.parent.mkdir()
    bad.write_bytes(b"not a tiff")
    folder = quarantine_document(tmp_path / "home", "B1", bad, "not an image or PDF")
    assert (folder / "broken.tif").read_bytes() == bad.read_bytes() == b"not a tiff"
    reason = json.loads((folder / "broken.tif.reason.json").read_text())
    assert reason["reason"] == "not an image or PDF"
    assert reason["checksums"]["broken.tif"] == sha256_file(bad)


def test_batch_ledger_reports_eta_and_interrupted_runs(tmp_path: Path) -> None:
    from archive.intake import BatchReport, DocumentStatus, Ledger

    report = BatchReport("B-1", ["/scans"], pid=2**22 + 12345)  # no such process
    report.documents = [DocumentStatus("a", pages=4, pages_done=1, status="running")]
    Ledger(tmp_path).save(report)
    [loaded] = Ledger(tmp_path).find("B-")
    assert loaded.effective_state() == "interrupted"
    assert loaded.eta_seconds() is not None and loaded.eta_seconds() >= 0
    loaded.state = "finished"
    assert loaded.eta_seconds() is None and loaded.effective_state() == "finished"


def test_the_threads_of_a_batch_make_the_storage_root_at_once(tmp_path: Path) -> None:
    """A batch's first commits run in threads of one process: each writes the root's
    declarations with a temporary file of its own (a name from the process id alone was
    shared, and one thread's rename took the other's file away)."""
    import threading

    from archive.store.objects import init_storage_root

    errors: list[BaseException] = []
    for attempt in range(30):
        root = tmp_path / f"archive-{attempt}"
        start = threading.Barrier(8)

        def make(root: Path = root, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                init_storage_root(root)
            except BaseException as exc:  # collected: a thread's exception is otherwise lost
                errors.append(exc)

        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert (root / "0=ocfl_1.1").is_file() and (root / "ocfl_layout.json").is_file()
        assert sorted(p.name for p in root.iterdir()) == ["0=ocfl_1.1", "ocfl_layout.json"]
    assert errors == []


def test_a_version_built_on_an_older_head_is_refused(tmp_path: Path) -> None:
    """Two writers each copy v1 and add a version: the second's rename would drop the
    first's v2 (a correction, or a raised classification). It is refused, and the first's
    version stays."""
    archive = tmp_path / "archive"
    stored = store_record(archive, content_sha="e" * 64, unit="VP", year=2024,
                          **_inputs(tmp_path))
    record_id = stored.record_id
    raced: list[str] = []

    def meanwhile(leaf: Leaf) -> Leaf:  # called as the slower writer is about to commit
        if not raced:
            raced.append(record_id)
            new_version(archive, record_id, {"corrections.json": b"[]"}, "the faster one")
        return leaf

    with pytest.raises(ObjectChanged, match=r"v1 then, v2 now"):
        new_version(archive, record_id, {"notes.txt": b"slower"}, "the slower one",
                    vouch=meanwhile)
    paths = RecordPaths(archive / record_id, record_id)
    assert paths.inventory.head == "v2" and paths.file("corrections.json") is not None
    assert check_object(archive / record_id) == []
    assert [leaf.version for leaf in ArchiveLog(tmp_path).read().leaves
            if leaf.record_id == record_id] == ["v1", "v2"]


def _can_swap(folder: Path) -> bool:
    """Whether this kernel, C library and file system swap two paths in one step."""
    from archive.store.files import exchange_paths

    (folder / "probe-a").mkdir(parents=True)
    (folder / "probe-b").mkdir()
    try:
        return exchange_paths(folder / "probe-a", folder / "probe-b")
    finally:
        (folder / "probe-a").rmdir()
        (folder / "probe-b").rmdir()


@pytest.mark.parametrize("swaps", [True, False])
def test_a_new_version_never_leaves_the_record_absent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swaps: bool) -> None:
    """A reader looking the record up while a correction is committed finds the version
    before or the new one, never no record: the two are swapped in one step. Where the file
    system cannot swap (``swaps`` off: an injected refusal), the two renames still end with
    the record whole, its version before gone and nothing left in staging."""
    import archive.store.packages as packages

    if swaps and not _can_swap(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here: records renames twice")
    archive = tmp_path / "archive"
    record_id = store_record(archive, content_sha="f" * 64, unit="VP", year=2024,
                             **_inputs(tmp_path)).record_id
    final = archive / record_id
    seen: list[bool] = []
    rename = Path.rename

    def watched(self: Path, target: Path) -> Path:  # the record, after each rename
        moved = rename(self, target)
        seen.append(final.is_dir())
        return moved

    monkeypatch.setattr(Path, "rename", watched)
    if not swaps:
        monkeypatch.setattr(packages, "exchange_paths", lambda one, other: False)
    new_version(archive, record_id, {"corrections.json": b"[]"}, "a correction")
    assert seen and all(seen) is swaps, seen
    assert read_inventory(final).head == "v2" and check_object(final) == []
    assert [p.name for p in (archive / "extensions" / "records-staging").iterdir()] == []


def test_an_interruption_after_the_swap_leaves_the_version_to_be_logged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted (SIGTERM turned into an exception) after the new version was swapped in but
    before it was logged: the intent stays, so recover() logs the version in place."""
    if not _can_swap(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here: records renames twice")
    archive = tmp_path / "archive"
    record_id = store_record(archive, content_sha="9" * 64, unit="VP", year=2024,
                             **_inputs(tmp_path)).record_id
    rename = Path.rename

    def interrupted(self: Path, target: Path) -> Path:
        if target.name.endswith(".old"):  # the version before, moved aside after the swap
            raise KeyboardInterrupt
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        new_version(archive, record_id, {"corrections.json": b"[]"}, "a correction")
    monkeypatch.setattr(Path, "rename", rename)
    assert read_inventory(archive / record_id).head == "v2"
    logged = ArchiveLog(tmp_path).read().leaves
    assert [leaf.version for leaf in logged if leaf.record_id == record_id] == ["v1"]
    assert recover(archive) == [record_id]
    logged = ArchiveLog(tmp_path).read().leaves
    assert [leaf.version for leaf in logged if leaf.record_id == record_id] == ["v1", "v2"]


def test_exchange_paths_swaps_two_folders(tmp_path: Path) -> None:
    from archive.store.files import exchange_paths

    if not _can_swap(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here: records renames twice")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one").touch()
    (tmp_path / "b").mkdir()
    assert exchange_paths(tmp_path / "a", tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["one"]
    assert list((tmp_path / "a").iterdir()) == []
    with pytest.raises(FileNotFoundError):
        exchange_paths(tmp_path / "a", tmp_path / "missing")


def test_paths_that_cannot_be_swapped_change_nothing(tmp_path: Path) -> None:
    """Two file systems (EXDEV), like any refusal but a missing path: nothing changes and
    the caller is told to rename instead."""
    from archive.store.files import exchange_paths

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system at /dev/shm to swap across")
    here = tmp_path / "here"
    here.mkdir()
    there = Path(tempfile.mkdtemp(dir=shm))
    try:
        assert exchange_paths(here, there) is False
        assert here.is_dir() and there.is_dir()
    finally:
        there.rmdir()
