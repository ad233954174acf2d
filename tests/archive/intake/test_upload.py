"""Receiving a batch over the network: on disk as it arrives, whole or not at all, and no
name or zip can put a file outside the upload's folder."""

from __future__ import annotations

import io
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

from archive.intake import (
    StagedUpload,
    UploadLimits,
    UploadRecord,
    UploadRefused,
    begin_upload,
    list_uploads,
    load_upload,
    relative_parts,
    remove_stale,
)

LIMITS = UploadLimits(max_bytes=1 << 20, max_files=10)


def send(staged: StagedUpload, name: str, data: bytes, kind: str = "files") -> None:
    if staged.begin_file(name, kind):
        for start in range(0, len(data), 1000):
            staged.write(data[start:start + 1000])
        staged.end_file()


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_picked_folder_is_the_batch_folder_and_its_subfolders_records(tmp_path: Path) -> None:
    staged = begin_upload(tmp_path, LIMITS)
    send(staged, "scans/a.png", b"a", "folder")
    send(staged, "scans/letter-2/p1.png", b"p1", "folder")
    send(staged, "scans/.DS_Store", b"junk", "folder")
    send(staged, "my manifest.csv", b"source,title\n", "manifest")
    folder = staged.commit("20261203-170000-0a1b2c3d", UploadRecord("20261203-170000-0a1b2c3d",
                                                                     "clerk", "VP"))
    assert folder == tmp_path / "uploads" / "20261203-170000-0a1b2c3d"
    assert folder_files(folder) == {"a.png": b"a", "letter-2/p1.png": b"p1",
                                    "manifest.csv": b"source,title\n"}
    record = load_upload(tmp_path, "20261203-170000-0a1b2c3d")
    assert record is not None and (record.files, record.bytes, record.by) == (3, 16, "clerk")
    assert [r.batch_id for r in list_uploads(tmp_path)] == ["20261203-170000-0a1b2c3d"]
    assert not list((tmp_path / "uploads").glob("*.partial"))


def test_a_zip_is_unpacked_its_single_top_folder_being_the_batch(tmp_path: Path) -> None:
    staged = begin_upload(tmp_path, LIMITS)
    send(staged, "batch.zip", zipped({"batch/a.pdf": b"%PDF", "batch/b/p1.tif": b"II*",
                                      "__MACOSX/batch/._a.pdf": b"junk"}))
    folder = staged.commit("20261203-170000-00000001", UploadRecord("x", "clerk", "VP"))
    assert folder_files(folder) == {"a.pdf": b"%PDF", "b/p1.tif": b"II*"}


@pytest.mark.parametrize("name", ["../evil.png", "scans/../../evil.png", "/etc/passwd",
                                  "C:\\Windows\\evil.png", "a\x00b.png", "a\nb.png"])
def test_names_that_leave_the_folder_refuse_the_upload(tmp_path: Path, name: str) -> None:
    with pytest.raises(UploadRefused):
        relative_parts(name)
    if "\x00" not in name:  # zipfile itself cuts a stored name at a NUL
        staged = begin_upload(tmp_path, LIMITS)
        with pytest.raises(UploadRefused):
            send(staged, "x.zip", zipped({name: b"x"}))
        staged.discard()
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()
    assert not (tmp_path / "uploads").exists() or list((tmp_path / "uploads").iterdir()) == []


def test_a_zip_link_or_bomb_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("batch/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.tif", b"\0" * (4 << 20))  # 4 MiB unpacked, a few KB packed
    for data, words in ((buffer.getvalue(), "link"), (bomb.getvalue(), "larger than"),
                        (b"PK\x03\x04 not a zip", "not a zip file")):
        staged = begin_upload(tmp_path, LIMITS)
        with pytest.raises(UploadRefused, match=words):
            send(staged, "batch.zip", data)
        staged.discard()
    assert list((tmp_path / "uploads").iterdir()) == []


def test_limits_duplicates_and_two_manifests_refuse(tmp_path: Path) -> None:
    cases = [
        ([("a.png", b"x" * (LIMITS.max_bytes + 1), "files")], "larger than"),
        ([(f"{n}.png", b"x", "files") for n in range(LIMITS.max_files + 1)], "more than 10"),
        ([("A.png", b"x", "files"), ("a.PNG", b"y", "files")], "two files"),
        ([("manifest.csv", b"x", "files"), ("m.csv", b"y", "manifest")], "two manifests"),
    ]
    for files, words in cases:
        staged = begin_upload(tmp_path, LIMITS)
        with pytest.raises(UploadRefused, match=words):
            for name, data, kind in files:
                send(staged, name, data, kind)
        staged.discard()
    staged = begin_upload(tmp_path, LIMITS)
    with pytest.raises(UploadRefused, match="no files"):
        staged.commit("20261203-170000-00000002", UploadRecord("x", "clerk", "VP"))


def test_what_a_crashed_upload_left_is_removed_after_a_day(tmp_path: Path) -> None:
    old = begin_upload(tmp_path, LIMITS)
    send(old, "a.png", b"a")
    fresh = begin_upload(tmp_path, LIMITS)
    day_ago = time.time() - 25 * 3600
    os.utime(old.folder, (day_ago, day_ago))
    assert remove_stale(tmp_path / "uploads", time.time()) == [old.folder.name]
    assert fresh.folder.is_dir() and not old.folder.exists()
