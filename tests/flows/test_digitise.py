"""The digitise_batch flow: good records archived, bad ones quarantined, reruns idempotent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf.pdfa
import pytest
from prefect.client.orchestration import get_client

from archive.signing import DevPki, trust_roots, verify_record
from archive.store import RecordPaths, check_object, read_sidecar
from config.settings import load_settings
from flows.digitise import digitise_batch
from tests.conftest import Scans, cer, pdftotext


@pytest.fixture
def batch(tmp_path: Path, scans: Scans) -> Path:
    folder = tmp_path / "batch"
    record = folder / "letter-vie"
    record.mkdir(parents=True)
    vie, _ = scans.page("vie", seed=21)
    (record / "page-1.png").write_bytes(vie.read_bytes())
    eng, _ = scans.page("eng", seed=22, rotation=270, encoding="jpeg")
    (folder / "letter-eng.jpg").write_bytes(eng.read_bytes())
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "minutes.tif").write_text("typed minutes, not a scan")
    (folder / "manifest.csv").write_text(
        "source,title,unit,classification,date,language\n"
        "letter-vie,Kế hoạch số hóa,TCCT,internal,2024-09-16,vie\n", encoding="utf-8")
    return folder


def _run(batch: Path, batch_id: str) -> dict:
    """The batch's report as its ledger holds it."""
    return digitise_batch(paths=[str(batch)], batch_id=batch_id, unit="VP",
                          languages="eng").to_dict()


@pytest.mark.flow
def test_batch_archives_good_and_quarantines_bad(batch: Path, home: Path, scans: Scans) -> None:
    originals = {p: p.read_bytes() for p in batch.rglob("*") if p.is_file()}
    report = _run(batch, "B-test-1")
    by_source = {d["source"]: d for d in report["documents"]}
    assert by_source["empty.pdf"]["status"] == "quarantined"
    assert by_source["empty.pdf"]["reason"] == "empty file (0 bytes)"
    assert "not an image or PDF" in by_source["minutes.tif"]["reason"]
    vie, eng = by_source["letter-vie"], by_source["letter-eng.jpg"]
    assert vie["status"] == eng["status"] == "archived"
    assert vie["record_id"] == "TCCT-2024-000001"  # unit and date from the manifest
    assert eng["record_id"].startswith("VP-")
    record = home / "archive" / vie["record_id"]
    assert check_object(record) == []
    sidecar = read_sidecar(record)
    assert sidecar["descriptive"]["classification"] == "internal"
    assert [e["type"] for e in sidecar["provenance"]] == [
        "received", "validated", "ocr", "pdfa-validated", "signed", "verified", "stored"]
    assert sidecar["signature"]["level"] == "B-B"
    assert sidecar["signature"]["signer"]["identity"] == "organisation"
    assert sidecar["descriptive"]["sources"]["title"] == "manifest"
    eng_record = read_sidecar(home / "archive" / eng["record_id"])
    described = eng_record["descriptive"]
    assert described["sources"]["document_number"] == "extracted"  # read off the letter
    assert described["sources"]["unit"] == "default"
    assert verify_record(record, trust_roots(load_settings().signing, home)).ok
    pdf = RecordPaths(record, vie["record_id"]).pdf
    unsigned = pdf.read_bytes()[: sidecar["signature"]["unsigned_size"]]
    assert pikepdf.pdfa.validate_written(io.BytesIO(unsigned), "2b").passed
    _, vie_text = scans.page("vie", seed=21)
    assert cer(vie_text, pdftotext(pdf)) < 0.03  # the manifest's language was used
    assert (home / "quarantine" / "B-test-1" / "minutes.tif").is_file()
    assert {p: p.read_bytes() for p in batch.rglob("*") if p.is_file()} == originals
    ledger = json.loads((home / "batches" / "B-test-1.json").read_text())
    assert ledger["state"] == "finished"
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts()}
    assert {"batch-progress", "batch-summary", "roadmap"} <= keys


@pytest.mark.flow
def test_a_manifest_asking_for_less_than_the_batch_is_archived_stricter_and_warned(
        tmp_path: Path, home: Path, scans: Scans) -> None:
    """The row says public, the batch says confidential: confidential is kept, and the
    batch's report and ledger say so."""
    folder = tmp_path / "lower"
    folder.mkdir()
    page, _ = scans.page("eng", seed=33)
    (folder / "p.png").write_bytes(page.read_bytes())
    (folder / "manifest.csv").write_text("source,classification\np.png,public\n")
    report = digitise_batch(paths=[str(folder)], batch_id="B-lower", unit="VP",
                            classification="confidential", languages="eng")
    [doc] = report.documents
    assert doc.status == "archived", doc
    described = read_sidecar(home / "archive" / doc.record_id)["descriptive"]
    assert described["classification"] == "confidential"
    warning = ("p.png: the manifest asks for 'public', below the batch's 'confidential'; "
               "it is archived as 'confidential'")
    assert warning in report.outcome()["warnings"]
    ledger = json.loads((home / "batches" / "B-lower.json").read_text())
    assert warning in ledger["warnings"]


@pytest.mark.flow
def test_a_spreadsheet_manifest_keeps_the_classification_it_asks_for(
        tmp_path: Path, home: Path, scans: Scans) -> None:
    """Excel's CSV on Windows: cp1252, ';' between cells, a name in other case. The record is
    archived as secret, and the batch says what it matched."""
    folder = tmp_path / "excel"
    folder.mkdir()
    page, _ = scans.page("eng", seed=31)
    (folder / "s.png").write_bytes(page.read_bytes())
    (folder / "manifest.csv").write_bytes(
        "Source;Title;Classification\r\nS.PNG;Prüfbericht;Secret\r\n".encode("cp1252"))
    report = digitise_batch(paths=[str(folder)], batch_id="B-excel", unit="VP",
                            classification="internal", languages="eng")
    [doc] = report.documents
    assert doc.status == "archived", doc
    described = read_sidecar(home / "archive" / doc.record_id)["descriptive"]
    assert (described["classification"], described["title"]) == ("secret", "Prüfbericht")
    assert any("'S.PNG' taken as 's.png'" in w for w in report.outcome()["warnings"])
    ledger = json.loads((home / "batches" / "B-excel.json").read_text())
    assert ledger["warnings"] == report.warnings


@pytest.mark.flow
def test_a_manifest_that_cannot_be_applied_quarantines_the_folder(
        tmp_path: Path, home: Path, scans: Scans) -> None:
    """A misspelt column cannot be applied: nothing of the folder is archived (it could have
    been archived as public), every document is quarantined with the reason, originals kept."""
    folder = tmp_path / "typo"
    folder.mkdir()
    page, _ = scans.page("eng", seed=32)
    (folder / "a.png").write_bytes(page.read_bytes())
    (folder / "b.png").write_bytes(page.read_bytes())
    (folder / "manifest.csv").write_text("source,clasification\na.png,secret\n")
    originals = {p: p.read_bytes() for p in folder.iterdir()}
    report = digitise_batch(paths=[str(folder)], batch_id="B-typo", unit="VP",
                            languages="eng")
    assert [d.status for d in report.documents] == ["quarantined", "quarantined"]
    assert all("'clasification'" in (d.reason or "") for d in report.documents)
    assert report.exit_code() == 3
    assert not list((home / "archive").glob("*-*-*"))
    assert (home / "quarantine" / "B-typo" / "a.png").read_bytes() == page.read_bytes()
    assert {p: p.read_bytes() for p in folder.iterdir()} == originals


@pytest.mark.flow
def test_scans_archived_before_are_not_called_archived_below_what_is_asked_now(
        tmp_path: Path, home: Path, scans: Scans) -> None:
    """The same scans queued again as secret: the public record stays as it is (raising it is
    a person's correction), and the document is quarantined saying so, not "archived"."""
    page, _ = scans.page("eng", seed=33)
    first, again = tmp_path / "first", tmp_path / "again"
    for folder in (first, again):
        folder.mkdir()
        (folder / "letter.png").write_bytes(page.read_bytes())
    (again / "manifest.csv").write_text("source,classification\nletter.png,secret\n")
    [done] = digitise_batch(paths=[str(first)], batch_id="B-pub", unit="VP",
                            languages="eng").documents
    assert done.status == "archived"
    [redo] = digitise_batch(paths=[str(again)], batch_id="B-sec", unit="VP",
                            languages="eng").documents
    assert redo.status == "quarantined", redo
    assert f"archived as {done.record_id}, classified 'public'" in (redo.reason or "")
    same = digitise_batch(paths=[str(first)], batch_id="B-pub2", unit="VP", languages="eng")
    assert same.documents[0].status == "archived"  # asking for no more is a plain duplicate


@pytest.mark.flow
def test_rerun_redoes_nothing_and_duplicates_nothing(batch: Path, home: Path) -> None:
    first = _run(batch, "B-test-2")
    results = sorted((home / "cache" / "pages").rglob("result.json"))
    stamps = [p.stat().st_mtime_ns for p in results]
    second = _run(batch, "B-test-3")
    assert [p.stat().st_mtime_ns for p in results] == stamps  # no page recognised again
    assert sorted((home / "cache" / "pages").rglob("result.json")) == results
    ids = [(d["source"], d["record_id"]) for d in first["documents"]]
    assert [(d["source"], d["record_id"]) for d in second["documents"]] == ids, second["documents"]
    archived = [d for d in second["documents"] if d["status"] == "archived"]
    assert all("already archived" in d["reason"] for d in archived)
    assert len(list((home / "archive").glob("*-*-*"))) == 2


@pytest.mark.flow
def test_engine_failure_fails_the_document_not_the_batch(
        batch: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hung engine (here: a timeout no page can meet) is reported, and the batch ends."""
    monkeypatch.setenv("RECORDS_OCR__PAGE_TIMEOUT", "0.01")
    report = _run(batch, "B-test-4")
    by_source = {d["source"]: d for d in report["documents"]}
    assert by_source["letter-vie"]["status"] == "failed"
    assert "longer than" in by_source["letter-vie"]["reason"]
    assert by_source["empty.pdf"]["status"] == "quarantined"
    assert report["state"] == "finished"
    assert not list((home / "archive").glob("*-*-*"))
    assert not (home / "quarantine" / "B-test-4" / "letter-vie").exists()  # not the input's fault


@pytest.mark.flow
@pytest.mark.corpus
def test_corpus_broken_files_quarantined_with_reasons(corpus: Path, home: Path,
                                                      tmp_path: Path) -> None:
    """The corpus's 19 broken files in one batch: the 6 the README names archived (a broken
    EXIF, a BigTIFF, PDFs qpdf repairs), each with its DPI decision recorded per page, the 13
    others quarantined with the README's words and their reason files; none failed."""
    import shutil

    from tests.ocr.test_inputs import CORPUS_OPENED, CORPUS_REFUSED

    batch = tmp_path / "broken"
    batch.mkdir()
    for path in [*corpus.glob("broken-pdf/*"), *corpus.glob("broken-image/*")]:
        shutil.copyfile(path, batch / path.name)
    report = _run(batch, "B-broken")
    statuses = {d["source"]: (d["status"], d["reason"]) for d in report["documents"]}
    archived = {name for name, (status, _) in statuses.items() if status == "archived"}
    quarantined = {name: reason for name, (status, reason) in statuses.items()
                   if status == "quarantined"}
    assert archived == set(CORPUS_OPENED), statuses
    assert set(quarantined) == set(CORPUS_REFUSED), statuses
    for name, words in CORPUS_REFUSED.items():
        assert quarantined[name].startswith(words), (name, quarantined[name])
        assert (home / "quarantine" / "B-broken" / f"{name}.reason.json").is_file()
    for doc in report["documents"]:
        if doc["status"] == "archived":
            pages = read_sidecar(home / "archive" / doc["record_id"])["technical"]["pages"]
            assert len(pages) == CORPUS_OPENED[doc["source"]]
            assert all(page["dpi"] > 0 and page["dpi_source"] for page in pages), pages


@pytest.mark.flow
def test_tsa_outage_signing_without_a_time_stamp_says_so(
        batch: Path, home: Path, animator: DevPki, monkeypatch: pytest.MonkeyPatch) -> None:
    """signing.tsa_down = "sign-without": archived now as B-B, and the record says why."""
    from tests.conftest import free_port

    monkeypatch.setenv("RECORDS_SIGNING__TSA_URL", f"http://127.0.0.1:{free_port()}/tsa")
    monkeypatch.setenv("RECORDS_SIGNING__TSA_DOWN", "sign-without")
    single = batch.parent / "single"
    single.mkdir()
    (single / "letter-eng.jpg").write_bytes((batch / "letter-eng.jpg").read_bytes())
    [doc] = _run(single, "B-test-6")["documents"]
    assert doc["status"] == "archived"
    record = home / "archive" / doc["record_id"]
    sidecar = read_sidecar(record)
    assert sidecar["signature"]["level"] == "B-B"
    assert "did not answer" in sidecar["signature"]["tsa_fallback"]
    [signed] = [e for e in sidecar["provenance"] if e["type"] == "signed"]
    assert "without a time-stamp" in signed["detail"]
    assert verify_record(record, trust_roots(load_settings().signing, home)).ok


@pytest.mark.flow
def test_b_lta_batch_and_a_tsa_outage(batch: Path, home: Path, animator: DevPki,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With a TSA configured copies are B-LTA; with the TSA down nothing half-signed is kept."""
    from tests.conftest import free_port

    monkeypatch.setenv("RECORDS_SIGNING__TSA_URL", f"http://127.0.0.1:{free_port()}/tsa")
    monkeypatch.setenv("RECORDS_SIGNING__TSA_DOWN", "fail")
    down = _run(batch, "B-test-4")
    failed = [d for d in down["documents"] if d["status"] == "failed"]
    assert len(failed) == 2 and all("did not answer" in d["reason"] for d in failed)
    assert not list((home / "archive").glob("*-*-*"))
    monkeypatch.setenv("RECORDS_SIGNING__TSA_URL", animator.tsa_url)
    again = _run(batch, "B-test-5")
    archived = [d for d in again["documents"] if d["status"] == "archived"]
    assert {d["record_id"] for d in archived} == {d["record_id"] for d in failed} - {None} or \
        len(archived) == 2
    for doc in archived:
        record = home / "archive" / doc["record_id"]
        assert read_sidecar(record)["signature"]["level"] == "B-LTA"
        verdict = verify_record(record, trust_roots(load_settings().signing, home))
        assert verdict.ok and "PASSED" in verdict.checks["ades"].detail.upper()
