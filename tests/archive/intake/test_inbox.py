"""The hot folder's logic without a watcher: snapshots, readiness on a clock, refusals, moves."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from archive.intake import (
    FAILED,
    QUEUED,
    REFUSED,
    Inbox,
    InboxError,
    claim,
    holding,
    problems,
    reason_path,
    refusal_text,
    remove_marker,
    set_aside,
    snapshot,
    watching,
)


def batch(inbox: Path, name: str, files: dict[str, bytes] | None = None) -> Path:
    folder = inbox / name
    folder.mkdir(parents=True)
    for relative, data in (files or {"page-1.png": b"scan"}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return folder


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    root.mkdir()
    for name in (QUEUED, REFUSED, FAILED):
        holding(root, name)
    return root


def test_snapshot_changes_with_names_sizes_and_mtimes_at_any_depth(inbox: Path) -> None:
    folder = batch(inbox, "b", {"rec/page-1.png": b"one"})
    first = snapshot(folder)
    assert first == snapshot(folder) and hash(first) == hash(snapshot(folder))
    (folder / "rec" / "page-1.png").write_bytes(b"two")  # same size, new mtime
    os.utime(folder / "rec" / "page-1.png", ns=(1, 1))
    second = snapshot(folder)
    assert second != first
    (folder / "rec" / "page-1.png").write_bytes(b"three")
    third = snapshot(folder)
    assert third != second
    (folder / "rec" / "page-2.png").write_bytes(b"")
    assert snapshot(folder) != third


def test_stable_after_unchanged_for_the_set_time_on_the_injected_clock(inbox: Path) -> None:
    folder = batch(inbox, "b")
    watcher = Inbox(inbox, stable=30)
    first = watcher.scan(now=100)
    assert first.found == [folder] and first.ready == []
    assert watcher.scan(now=129).ready == [] and watcher.scan(now=129).found == []
    (folder / "page-2.png").write_bytes(b"more")  # still being written: the count restarts
    assert watcher.scan(now=131).ready == []
    assert watcher.scan(now=160).ready == []
    [ready] = watcher.scan(now=161).ready
    assert ready.folder == folder and "30 s" in ready.why
    watcher.forget(folder)
    assert watcher.scan(now=162).found == [folder]  # a new folder of that name counts afresh


def test_stable_zero_is_ready_when_first_seen(inbox: Path) -> None:
    folder = batch(inbox, "b")
    assert [r.folder for r in Inbox(inbox, stable=0).scan(now=0).ready] == [folder]


def test_ready_marker_is_ready_at_once_and_removed_before_queueing(inbox: Path) -> None:
    folder = batch(inbox, "b", {"page-1.png": b"scan", "READY": b""})
    [ready] = Inbox(inbox, stable=3600).scan(now=0).ready
    assert ready.folder == folder and "READY" in ready.why
    assert remove_marker(folder) and not (folder / "READY").exists()
    assert (folder / "page-1.png").read_bytes() == b"scan"
    assert not remove_marker(folder)


def test_an_empty_folder_waits_for_its_first_file(inbox: Path) -> None:
    folder = inbox / "b"
    (folder / "record-1").mkdir(parents=True)
    watcher = Inbox(inbox, stable=0)
    assert watcher.scan(now=0).ready == [] and watcher.waiting == ["b"]
    (folder / "READY").touch()  # marked but empty: taken, then refused for holding nothing
    [ready] = watcher.scan(now=1).ready
    assert any("holds no files" in p for p in problems(ready.folder, inbox))


def test_symlink_inside_is_refused_with_its_target_and_not_followed(inbox: Path,
                                                                   tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the archive")
    folder = batch(inbox, "b", {"rec/page-1.png": b"scan"})
    (folder / "rec" / "page-3.png").symlink_to(secret)
    shot = snapshot(folder)
    assert {e.path: e.kind for e in shot.entries}["rec/page-3.png"] == "link"
    [problem] = problems(folder, inbox)
    assert problem == (f"contains a symbolic link: rec/page-3.png -> {secret}; links could pull "
                       "files from outside the batch")
    target = set_aside(folder, inbox / REFUSED, refusal_text("b", [problem]), name="b")
    assert target == inbox / REFUSED / "b"
    reason = reason_path(target).read_text(encoding="utf-8")
    assert problem in reason and '"b" was not queued' in reason
    assert os.readlink(target / "rec" / "page-3.png") == str(secret)  # moved as it was
    assert secret.read_text() == "not for the archive"


def test_folder_that_is_a_symlink_is_refused_and_never_entered(inbox: Path,
                                                               tmp_path: Path) -> None:
    outside = batch(tmp_path, "elsewhere", {"page-1.png": b"scan", "READY": b""})
    (inbox / "linked").symlink_to(outside, target_is_directory=True)
    watcher = Inbox(inbox, stable=3600)
    assert watcher.scan(now=0).ready == []  # its READY is behind the link: not looked at
    assert snapshot(inbox / "linked").entries == ()
    found = problems(inbox / "linked", inbox)
    assert any(p.startswith(f"is a symbolic link to {outside}") for p in found)
    assert any("lies outside the inbox" in p for p in found)
    moved = claim(inbox / "linked", inbox / REFUSED)
    assert moved.is_symlink() and (outside / "READY").exists()  # the link moved, not the files


def test_fifo_socket_and_device_are_refused(inbox: Path) -> None:
    folder = batch(inbox, "b")
    os.mkfifo(folder / "pipe.png")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "s.sock"))
        found = problems(folder, inbox)
    assert "contains a named pipe (FIFO): pipe.png" in found[0]
    assert "contains a socket: s.sock" in found[1]
    try:
        os.mknod(folder / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device file needs privileges")
    assert any("contains a device file: null" in p for p in problems(folder, inbox))


_PROBLEMS = """
import json, sys
from pathlib import Path
from archive.intake.inbox import problems
print(json.dumps(problems(Path(sys.argv[1]), Path(sys.argv[2]))))
"""


def _problems_without_root_powers(folder: Path, inbox: Path) -> list[str]:
    """problems(), checked as a user the permission bits apply to: as root, in a process
    without the capabilities that let root read any folder (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH dropped from its bounding set before exec), so the test runs in CI."""
    if os.geteuid() != 0:
        return problems(folder, inbox)
    done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                           sys.executable, "-c", _PROBLEMS, str(folder), str(inbox)],
                          cwd=Path(__file__).resolve().parents[3], capture_output=True,
                          text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def test_unreadable_subfolder_is_refused(inbox: Path) -> None:
    folder = batch(inbox, "b", {"rec/page-1.png": b"scan"})
    (folder / "rec").chmod(0)
    try:
        assert _problems_without_root_powers(folder, inbox) == [
            "cannot be read: rec (permission denied), so what it holds cannot be checked"]
    finally:
        (folder / "rec").chmod(0o755)


def test_good_batch_has_no_problems(inbox: Path) -> None:
    folder = batch(inbox, "b", {"rec/page-1.png": b"scan", "single.tif": b"x",
                                "manifest.csv": b"source\n"})
    assert problems(folder, inbox) == []


def test_claim_suffixes_taken_names(inbox: Path) -> None:
    moved = []
    for _ in range(3):
        folder = batch(inbox, "2024-09-16", {"page.png": b"x"})
        moved.append(claim(folder, inbox / QUEUED))
    assert [p.name for p in moved] == ["2024-09-16", "2024-09-16-2", "2024-09-16-3"]
    assert not (inbox / "2024-09-16").exists()
    (inbox / QUEUED / "late").symlink_to("/nowhere")  # a dangling link takes its name too
    assert claim(batch(inbox, "x"), inbox / QUEUED, name="late").name == "late-2"
    (inbox / QUEUED / "empty").mkdir()  # rename would replace an empty folder: never onto it
    assert claim(batch(inbox, "empty"), inbox / QUEUED).name == "empty-2"
    assert not any((inbox / QUEUED / "empty").iterdir())


def test_plain_files_in_the_inbox_are_ignored_and_reported_once(inbox: Path) -> None:
    (inbox / "loose.png").write_bytes(b"x")
    (inbox / ".DS_Store").write_bytes(b"x")
    batch(inbox / QUEUED, "old")
    batch(inbox / REFUSED, "bad")
    watcher = Inbox(inbox, stable=0)
    first = watcher.scan(now=0)
    assert first.ignored == [inbox / "loose.png"] and first.found == first.ready == []
    assert watcher.scan(now=1).ignored == []
    (inbox / "loose.png").unlink()
    watcher.scan(now=2)
    (inbox / "loose.png").write_bytes(b"x")  # dropped again: reported again
    assert watcher.scan(now=3).ignored == [inbox / "loose.png"]


def test_vanished_folder_is_forgotten(inbox: Path) -> None:
    folder = batch(inbox, "b")
    watcher = Inbox(inbox, stable=10)
    watcher.scan(now=0)
    folder.rename(inbox.parent / "taken-back")
    assert watcher.scan(now=20).ready == [] and watcher.waiting == []


def test_a_link_in_place_of_a_holding_folder_stops_the_watcher(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / REFUSED).symlink_to(tmp_path)
    with pytest.raises(InboxError, match="must be a folder"):
        holding(tmp_path / "inbox", REFUSED)


def test_one_watcher_per_inbox(inbox: Path) -> None:
    with watching(inbox), pytest.raises(InboxError, match="already"), watching(inbox):
        pass
    with watching(inbox):  # released
        pass
