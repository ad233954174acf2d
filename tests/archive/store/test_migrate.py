"""An archive written by records 0.1 becomes OCFL objects under a signed log: every byte
kept, the bookkeeping carried over, and a record tampered with before migration not vouched
for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archive.signing import DevPki, SignOptions, load_pkcs12, sign_pdf, trust_roots
from archive.store import (
    ArchiveLog,
    Descriptive,
    Event,
    RecordPaths,
    check_object,
    dublin_core,
    record_ids,
    sidecar,
)
from config.settings import SigningSettings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests import legacy_v01
from tests.archive.signing.test_tamper import ocfl_validate
from tests.conftest import Scans

RECORDS = [sys.executable, "-m", "records.cli"]
IDS = ("VP-2024-000001", "VP-2024-000002", "VP-2024-000003")


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    return subprocess.run([*RECORDS, *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def legacy(home: Path, scans: Scans, pki: DevPki, tmp_path: Path) -> Path:
    """Three signed records as records 0.1 stored them, one with later events, one whose
    page text was changed behind its manifest's back."""
    archive = home / "archive"
    roots = trust_roots(SigningSettings(), pki.folder.parent)
    signer = load_pkcs12(pki.pkcs12("organisation"), pki.passphrase_file.read_bytes(),
                         "organisation", roots)
    for n, record_id in enumerate(IDS, start=1):
        page, _ = scans.page("vie", seed=80 + n)
        described = Descriptive(title=f"Tờ trình {n}", unit="VP", date="2024-03-01",
                                language="vie")
        unsigned, signed = tmp_path / f"{n}.pdf", tmp_path / f"{n}.signed.pdf"
        result = ocr_to_pdfa([page], unsigned, OcrOptions(languages="vie"), tmp_path / "cache",
                             dublin_core(described, record_id))
        signature = sign_pdf(signer, SignOptions(), unsigned, signed)
        legacy_v01.store_record(archive, record_id=record_id, content_sha=str(n) * 64,
                                source=page, pdf=signed,
                                page_dirs=[p.path for p in result.pages],
                                sidecar=sidecar(described, {"page_count": 1}, [], "B-old",
                                                str(n) * 64, page.name, signature.as_dict()))
    for _ in range(2):
        legacy_v01.append_event(archive, IDS[0], Event("fixity", "success", "all checks"))
    tampered = archive / IDS[2] / "pages" / "0001.txt"
    tampered.chmod(0o644)
    tampered.write_text("rewritten before migration", encoding="utf-8")
    return archive


def test_migration_keeps_every_byte_and_vouches_only_for_intact_records(
        legacy: Path, home: Path) -> None:
    before = {p.relative_to(legacy).as_posix(): p.read_bytes()
              for p in legacy.rglob("*") if p.is_file()}
    done = run(["migrate"], home)
    assert done.returncode == 1, done.stderr  # one record is not vouched for
    assert f"{IDS[2]}: migrated but NOT entered in the log" in done.stderr
    assert "pages/0001.txt: changed before migration" in done.stderr
    old = home / "archive-0.1"
    assert {p.relative_to(old).as_posix(): p.read_bytes()
            for p in old.rglob("*") if p.is_file()} == before  # the old folder, untouched
    assert record_ids(home / "archive") == list(IDS)
    for record_id in IDS:
        record = RecordPaths(home / "archive" / record_id, record_id)
        assert check_object(record.folder) == []
        for name, data in before.items():
            if name.startswith(f"{record_id}/"):
                kept = record.file(name.split("/", 1)[1])
                assert kept is not None and kept.read_bytes() == data, name
    events = RecordPaths(home / "archive" / IDS[0], IDS[0]).events
    assert events is not None and events.read_bytes() == before[f".events/{IDS[0]}.jsonl"]
    assert [leaf.record_id for leaf in ArchiveLog(home).read().leaves] == list(IDS[:2])
    assert (home / "work" / "by-hash" / ("1" * 64)).read_text() == IDS[0]
    assert ocfl_validate(home / "archive").returncode == 0

    checked = run(["verify", "--all", "--json"], home)
    verdicts = {v["record_id"]: v for v in json.loads(checked.stdout)["records"]}
    assert verdicts[IDS[0]]["ok"] and verdicts[IDS[1]]["ok"]
    assert "not in the archive's log" in verdicts[IDS[2]]["checks"]["log"]["detail"]
    assert checked.returncode == 1
    assert run(["migrate"], home).returncode == 2  # nothing left to migrate


def test_an_untouched_archive_migrates_and_verifies(legacy: Path, home: Path) -> None:
    (legacy / IDS[2]).chmod(0o755)
    for path in (legacy / IDS[2]).rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(legacy / IDS[2])
    done = run(["migrate"], home)
    assert done.returncode == 0, done.stderr
    assert run(["verify", "--all"], home).returncode == 0
    reindexed = run(["reindex"], home)
    assert reindexed.returncode == 0 and "2 records" in reindexed.stderr


def test_a_record_without_its_manifest_or_with_a_file_added_is_migrated_not_vouched(
        legacy: Path, home: Path) -> None:
    for folder in (legacy / IDS[0], legacy / IDS[1]):
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    (legacy / IDS[1] / "manifest-sha256.txt").unlink()
    (legacy / IDS[0] / "originals" / "extra.txt").write_text("slipped in")
    done = run(["migrate"], home)
    assert done.returncode == 1
    assert "manifest-sha256.txt cannot be read" in done.stderr
    assert "originals/extra.txt: not in its old manifest" in done.stderr
    assert record_ids(home / "archive") == list(IDS)  # nothing passed over
    assert ArchiveLog(home).read().leaves == []  # and nothing vouched for


def test_an_interrupted_migration_is_finished_by_the_next(legacy: Path, home: Path,
                                                          pki: DevPki) -> None:
    from archive.store import migrate_archive

    def killed_on_the_second(staged: Path) -> list[str]:
        if staged.name == IDS[1]:
            raise SystemExit("killed")
        return []

    with pytest.raises(SystemExit):
        migrate_archive(home / "archive", killed_on_the_second, vouch=None)
    assert record_ids(home / "archive") == [IDS[0]]
    done = run(["migrate"], home)
    assert record_ids(home / "archive") == list(IDS), done.stderr
    assert f"{IDS[1]}: " in done.stderr and f"{IDS[0]}: " not in done.stderr
    assert run(["migrate"], home).returncode == 2  # now nothing is left
