"""`records renew` end to end: B-LTA copies made by a real batch (certomancer's TSA), renewed
by the real command, then checked by `records verify` as an auditor would."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from archive.signing import DevPki, signed_revision_sha256
from archive.store import RecordPaths
from archive.store.chain import ChainedLog
from tests.conftest import Scans

RECORDS = [sys.executable, "-m", "records.cli"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*RECORDS, *args], env=env, capture_output=True, text=True,
                          timeout=600)


def environment(home: Path, tsa_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env.update(RECORDS_HOME=str(home), RECORDS_SIGNING__TSA_URL=tsa_url,
               RECORDS_OCR__LANGUAGES="eng")
    return env


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def timestamps_of(data: bytes) -> list[datetime]:
    """The times of the document time-stamps embedded in a PDF, oldest first."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return [s.signed_data["encap_content_info"]["content"].parsed["gen_time"].native
            for s in reader.embedded_timestamp_signatures]


def current(home: Path, record_id: str) -> RecordPaths:
    """The record as a reader sees it now (a fresh inventory read each time)."""
    return RecordPaths(home / "archive" / record_id, record_id)


def verdict_of(env: dict[str, str], record_id: str) -> dict:
    done = run(["verify", record_id, "--json"], env)
    [verdict] = json.loads(done.stdout)["records"]
    assert done.returncode == 0 and verdict["ok"], verdict
    return verdict


def test_renew_adds_a_timestamp_as_a_new_version_and_the_record_still_verifies(
        scans: Scans, home: Path, animator: DevPki, tmp_path: Path) -> None:
    env = environment(home, animator.tsa_url)
    batch = tmp_path / "batch"
    batch.mkdir()
    for seed in (141, 142):
        page, _ = scans.page("eng", seed=seed)
        (batch / f"letter-{seed}.png").write_bytes(page.read_bytes())
    queued = run(["queue", str(batch), "--unit", "VP", "--json"], env)
    assert queued.returncode == 0, queued.stderr
    ids = sorted(d["record_id"] for d in json.loads(queued.stdout)["documents"]
                 if d["status"] == "archived")
    assert len(ids) == 2, queued.stdout

    before = {}
    for record_id in ids:
        paths = current(home, record_id)
        sidecar = paths.read_sidecar()
        assert sidecar["signature"]["level"] == "B-LTA"
        assert paths.inventory.head == "v1" and paths.renewals is None
        data = paths.pdf.read_bytes()
        before[record_id] = {"pdf": data, "inode": paths.folder.stat().st_ino,
                             "sidecar": paths.sidecar.read_bytes(),
                             "stamps": timestamps_of(data), "v1_pdf": paths.pdf}
        assert len(before[record_id]["stamps"]) == 1  # B-LTA: one document time-stamp
        assert signed_revision_sha256(data) == sidecar["signature"]["signed_revision_sha256"]
    heads_before = json.loads(run(["log", "show", "--json"], env).stdout)

    # The dev TSA's certificate runs twenty years: nothing is due within a year.
    none_due = run(["renew", "--all", "--within", "365"], env)
    assert none_due.returncode == 0, none_due.stderr
    assert "0 record(s) considered" in none_due.stderr and "renewed" not in none_due.stderr
    assert all(current(home, r).inventory.head == "v1" for r in ids)

    # A reader polling the copy while `records renew` runs sees the old copy, whole, or the
    # new one, whole: never a partly written file.
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for record_id in ids:
                try:
                    seen.add(sha256(current(home, record_id).pdf.read_bytes()))
                except (OSError, ValueError):  # the instant between the two renames
                    seen.add("absent")

    watcher = threading.Thread(target=watch, daemon=True)
    started = datetime.now(UTC)
    watcher.start()
    try:
        renewed = run(["renew", "--all", "--within", "8000"], env)
    finally:
        stop.set()
        watcher.join(10)
    assert renewed.returncode == 0, renewed.stderr
    assert "2 record(s) considered" in renewed.stderr
    assert "log head" in renewed.stderr and "signed" in renewed.stderr

    after = {}
    for record_id in ids:
        old = before[record_id]
        paths = current(home, record_id)
        assert paths.inventory.head == "v2"
        data = paths.pdf.read_bytes()
        after[record_id] = sha256(data)
        assert f"{record_id}: renewed, now {sha256(data)[:16]}" in renewed.stderr
        # An incremental update: the old copy is the new one's prefix; the signed bytes
        # are untouched, the whole file is not.
        assert data.startswith(old["pdf"]) and len(data) > len(old["pdf"])
        assert sha256(data) != sha256(old["pdf"])
        assert signed_revision_sha256(data) == signed_revision_sha256(old["pdf"])
        stamps = timestamps_of(data)
        assert stamps[:-1] == old["stamps"] and len(stamps) == 2
        assert stamps[-1] >= started.replace(microsecond=0)
        # A new version, put in place by a rename: a new folder; v1 is kept byte for byte.
        assert paths.folder.stat().st_ino != old["inode"]
        assert paths.pdf == paths.folder / "v2" / "content" / f"{record_id}.pdf"
        assert old["v1_pdf"].read_bytes() == old["pdf"]
        assert paths.sidecar.read_bytes() == old["sidecar"]  # record.json carried forward
        assert paths.renewals is not None
        [entry] = json.loads(paths.renewals.read_text(encoding="utf-8"))
        assert entry["previous_sha256"] == sha256(old["pdf"])
        assert entry["pdf_sha256"] == sha256(data)
        assert entry["tsa_url"] == animator.tsa_url
        assert paths.events is not None
        [event] = ChainedLog(paths.events).read()
        assert event["type"] == "renewed" and event["outcome"] == "success"
        assert event["checksums_in"] == {"pdf": sha256(old["pdf"])}
        assert event["checksums_out"] == {"pdf": sha256(data)}
        verdict = verdict_of(env, record_id)
        assert verdict["checks"]["file-hash"]["ok"]
        assert verdict["checks"]["signed-revision-hash"]["ok"]
        assert verdict["checks"]["log"]["ok"] and verdict["checks"]["ades"]["ok"]
    olds = {sha256(before[r]["pdf"]) for r in ids}
    assert olds <= seen  # the watcher did watch
    assert seen <= olds | set(after.values()) | {"absent"}, seen
    staging = home / "archive" / "extensions" / "records-staging"
    assert not staging.exists() or not any(staging.iterdir())  # nothing half-made left

    heads_after = json.loads(run(["log", "show", "--json"], env).stdout)
    assert heads_after["tree_size"] == heads_before["tree_size"] + 2  # two new versions

    # Renewed again: the chain of renewals goes on, each step's hashes kept.
    first = ids[0]
    again = run(["renew", first], env)
    assert again.returncode == 0, again.stderr
    paths = current(home, first)
    assert paths.inventory.head == "v3"
    assert paths.renewals is not None
    steps = json.loads(paths.renewals.read_text(encoding="utf-8"))
    assert len(steps) == 2 and steps[1]["previous_sha256"] == steps[0]["pdf_sha256"] \
        == after[first]
    assert steps[1]["pdf_sha256"] == sha256(paths.pdf.read_bytes())
    assert len(timestamps_of(paths.pdf.read_bytes())) == 3
    assert [e["type"] for e in ChainedLog(paths.events).read()] == ["renewed", "renewed"]
    checked = run(["verify", "--all", "--json"], env)
    assert checked.returncode == 0, checked.stdout
    assert {v["record_id"] for v in json.loads(checked.stdout)["records"]} == set(ids)


def test_renew_refuses_a_copy_that_is_not_b_lta_and_changes_nothing(
        scans: Scans, home: Path, tmp_path: Path, animator: DevPki) -> None:
    """Signed without a TSA (B-B): there is no document time-stamp to extend; the record is
    named, the command fails, and no version is added."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    plain.update(RECORDS_HOME=str(home), RECORDS_OCR__LANGUAGES="eng")
    page, _ = scans.page("eng", seed=143)
    queued = run(["queue", str(page), "--unit", "VP", "--json"], plain)
    assert queued.returncode == 0, queued.stderr
    [doc] = json.loads(queued.stdout)["documents"]
    record_id = doc["record_id"]
    assert current(home, record_id).read_sidecar()["signature"]["level"] == "B-B"
    inode = (home / "archive" / record_id).stat().st_ino
    refused = run(["renew", record_id], environment(home, animator.tsa_url))
    assert refused.returncode == 1
    assert f"{record_id} is B-B, not B-LTA" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert current(home, record_id).inventory.head == "v1"
    assert (home / "archive" / record_id).stat().st_ino == inode
    skipped = run(["renew", "--all", "--within", "8000"], environment(home, animator.tsa_url))
    assert skipped.returncode == 0 and "0 record(s) considered" in skipped.stderr
