"""Verification catches each way an archived copy can be tampered with, and names it."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from archive.signing import (
    FIELD_NAME,
    DevPki,
    SignOptions,
    check_fixity,
    due_for_check,
    load_pkcs12,
    sign_log,
    sign_pdf,
    trust_roots,
    verify_file,
    verify_record,
    vouch_with,
)
from archive.signing.verify import Expected, verify_bytes
from archive.store import (
    ChainedLog,
    Descriptive,
    RecordPaths,
    checks_log_path,
    dublin_core,
    read_checks,
    sidecar,
    store_record,
)
from config.settings import SigningSettings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests.conftest import INFO, Scans

RECORD_ID = "VP-2024-000001"
DESCRIPTIVE = Descriptive(
    title="Kế hoạch số hóa", unit="VP", series="Kế hoạch 2024", date="2024-09-16",
    language="vie", document_type="KẾ HOẠCH", document_number="12/KH-VP",
    issuer="BỘ QUỐC PHÒNG / VĂN PHÒNG")


def _signer(pki: DevPki, identity: str = "organisation"):  # type: ignore[no-untyped-def]
    roots = trust_roots(SigningSettings(), pki.folder.parent)
    return load_pkcs12(pki.pkcs12(identity), pki.passphrase_file.read_bytes(), identity,  # type: ignore[arg-type]
                       roots)


@pytest.fixture(scope="module")
def archived(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one signed record, made as the flow makes it."""
    page, _ = scans.page("vie", seed=5)
    work = tmp_path_factory.mktemp("record")
    unsigned = work / "unsigned.pdf"
    ocr_to_pdfa([page], unsigned, OcrOptions(languages="vie"), work / "cache",
                dublin_core(DESCRIPTIVE, RECORD_ID))
    signed = work / "signed.pdf"
    signature = sign_pdf(_signer(pki), SignOptions(), unsigned, signed)
    archive = work / "archive"
    store_record(archive, content_sha="f" * 64, unit="VP", year=2024, source=page, pdf=signed,
                 page_dirs=[], record_id=RECORD_ID, vouch=vouch_with(_signer(pki)),
                 sidecar=sidecar(DESCRIPTIVE, {}, [], "batch", "f" * 64, page.name,
                                 signature.as_dict()))
    sign_log(work, _signer(pki), SignOptions())
    return archive


@pytest.fixture
def copy(archived: Path, tmp_path: Path) -> Path:
    """A writable copy of the record folder to tamper with."""
    target = tmp_path / "archive" / RECORD_ID
    shutil.copytree(archived / RECORD_ID, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def test_untouched_record_passes_every_check(archived: Path, pki: DevPki) -> None:
    verdict = verify_record(archived / RECORD_ID, _signer(pki).trust_roots)
    assert verdict.ok, verdict.failures()
    assert set(verdict.checks) == {"object", "file-hash", "signed-revision-hash", "signature",
                                   "signer", "trust", "certification", "modifications", "ades",
                                   "xmp", "pdfa"}


def _pdf(record: Path) -> Path:
    return RecordPaths(record, RECORD_ID).pdf


def _flip_byte(record: Path) -> None:
    data = bytearray(_pdf(record).read_bytes())
    data[len(data) // 3] ^= 0x01  # inside the page image: covered by the signature
    _pdf(record).write_bytes(bytes(data))


def _append_annotation(record: Path) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(_pdf(record).read_bytes()))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Text"),
        generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n)
                                                         for n in (10, 10, 40, 40)]),
        generic.NameObject("/Contents"): generic.TextStringObject("approved later"),
    }))
    page[generic.NameObject("/Annots")] = generic.ArrayObject([note])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    _pdf(record).write_bytes(out.getvalue())


def _replace_xmp(record: Path) -> None:
    data = _pdf(record).read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        xmp = bytes(pdf.Root.Metadata.read_bytes()).replace(
            "Kế hoạch số hóa".encode(), "Kế hoạch đã sửa".encode())
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    stream = generic.StreamObject({generic.NameObject("/Type"): generic.NameObject("/Metadata"),
                                   generic.NameObject("/Subtype"): generic.NameObject("/XML")},
                                  stream_data=xmp)
    writer.root[generic.NameObject("/Metadata")] = writer.add_object(stream)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    _pdf(record).write_bytes(out.getvalue())


def _resave(record: Path) -> None:
    with pikepdf.open(_pdf(record), allow_overwriting_input=True) as pdf:
        pdf.save(_pdf(record))


def _missing(record: Path) -> None:
    _pdf(record).unlink()


def _swap_certificate_with(pki: DevPki) -> Callable[[Path], None]:
    def swap(record: Path) -> None:
        size = RecordPaths(record, RECORD_ID).read_sidecar()["signature"]["unsigned_size"]
        unsigned = record / "unsigned.pdf"
        unsigned.write_bytes(_pdf(record).read_bytes()[:size])
        sign_pdf(_signer(pki, "personal"), SignOptions(), unsigned, _pdf(record))
        unsigned.unlink()
    return swap


@pytest.mark.parametrize(("tamper", "check", "words"), [
    (_flip_byte, "signature", "signed bytes changed"),
    (_append_annotation, "modifications", "changed after signing"),
    (_replace_xmp, "xmp", "replaced after signing"),
    (_resave, "signature", ""),
    (_missing, "file", "is missing"),
    ("swap", "signer", "Nguyễn Văn An"),
])
def test_each_tampering_fails_and_says_what(copy: Path, pki: DevPki, tamper: object,
                                            check: str, words: str) -> None:
    act = _swap_certificate_with(pki) if tamper == "swap" else tamper
    act(copy)  # type: ignore[operator]
    verdict = verify_record(copy, _signer(pki).trust_roots)
    assert not verdict.ok
    assert not verdict.checks[check].ok, verdict.as_dict()
    assert words in verdict.checks[check].detail
    assert not verdict.checks["object"].ok  # the OCFL inventory catches it too


def test_a_loose_copy_verifies_on_its_own(archived: Path, pki: DevPki, tmp_path: Path) -> None:
    loose = tmp_path / "download.pdf"
    shutil.copyfile(_pdf(archived / RECORD_ID), loose)
    verdict = verify_file(loose, _signer(pki).trust_roots)
    assert verdict.ok, verdict.failures()
    other_roots = _signer(pki).trust_roots[:0]
    assert not verify_file(loose, other_roots).checks["trust"].ok


def test_audit_logs_a_chained_event_per_record(archived: Path, pki: DevPki,
                                               tmp_path: Path) -> None:
    shutil.copytree(archived.parent, tmp_path / "home")
    archive = tmp_path / "home" / "archive"
    assert due_for_check(archive, 5) == [RECORD_ID]
    seals = [_signer(pki).certificate]
    [verdict] = check_fixity(archive, [RECORD_ID], _signer(pki).trust_roots, seals, "fixity")
    check_fixity(archive, [RECORD_ID], _signer(pki).trust_roots, seals, "fixity")
    logged = read_checks(tmp_path / "home")[RECORD_ID]
    assert verdict.ok and [e["outcome"] for e in logged] == ["success", "success"]
    log = ChainedLog(checks_log_path(tmp_path / "home"))
    assert log.check()[0] == []
    lines = log.path.read_bytes().splitlines()
    log.path.write_bytes(lines[1] + b"\n")  # someone deletes the first line
    assert log.check()[0] == ["line 1 does not follow line 0"]


# ------------------------------------------------------------ each check fails on its own


def _failed(data: bytes, pki: DevPki, expected: Expected) -> dict[str, str]:
    """The checks a copy fails, with what they say."""
    verdict = verify_bytes(data, _signer(pki).trust_roots, expected)
    return {name: check.detail for name, check in verdict.checks.items() if not check.ok}


def _signed(pki: DevPki, source: Path, dest: Path, **options: object) -> Expected:
    signature = sign_pdf(_signer(pki), SignOptions(**options), source, dest)  # type: ignore[arg-type]
    return Expected(signature.pdf_sha256, signature.as_dict(), INFO)


def test_pdfa_fails_for_a_copy_that_is_not_the_validated_pdfa(pdfa: Path, pki: DevPki,
                                                            tmp_path: Path) -> None:
    """A signed plain PDF: every other check passes, pdfa alone fails and says why; a copy
    whose unsigned revision is not the one the record validated fails it too."""
    plain = tmp_path / "plain.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(plain)
    expected = _signed(pki, plain, tmp_path / "signed.pdf")
    failed = _failed((tmp_path / "signed.pdf").read_bytes(),
                     pki, replace(expected, dublin_core=None))
    assert list(failed) == ["pdfa"] and "fails PDF/A-2b" in failed["pdfa"], failed
    good = _signed(pki, pdfa, tmp_path / "good.pdf")
    other = replace(good, signature={**good.signature, "unsigned_sha256": "0" * 64})
    failed = _failed((tmp_path / "good.pdf").read_bytes(), pki, other)
    assert failed == {"pdfa": "the unsigned revision is not the PDF/A that was validated"}


def test_signed_revision_hash_fails_when_the_signed_revision_is_not_the_records(
        pdfa: Path, pki: DevPki, tmp_path: Path) -> None:
    """The record's hash of the signed revision (kept across renewals) against the copy's:
    a copy signed again, byte for byte the same document otherwise, is another revision."""
    expected = _signed(pki, pdfa, tmp_path / "first.pdf")
    _signed(pki, pdfa, tmp_path / "again.pdf")  # signed anew: another signing time
    again = (tmp_path / "again.pdf").read_bytes()
    told = replace(expected, pdf_sha256=None)
    failed = _failed(again, pki, told)
    assert list(failed) == ["signed-revision-hash"], failed
    assert "the file changed since it was archived" in failed["signed-revision-hash"]


def test_certification_fails_for_another_docmdp_or_an_approval_signature(
        pdfa: Path, pki: DevPki, tmp_path: Path) -> None:
    expected = _signed(pki, pdfa, tmp_path / "p2.pdf", docmdp=2)
    told_p1 = replace(expected, signature={**expected.signature, "docmdp": 1})
    failed = _failed((tmp_path / "p2.pdf").read_bytes(), pki, told_p1)
    assert failed == {"certification": "DocMDP P=2, the record says P=1"}
    approval = tmp_path / "approval.pdf"
    meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, certify=False,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    with approval.open("wb") as out:
        signers.PdfSigner(meta, _signer(pki).signer).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdfa.read_bytes())), output=out)
    failed = _failed(approval.read_bytes(), pki, Expected(dublin_core=INFO))
    assert failed == {"certification": "an approval signature, not a certification (no DocMDP)"}


def test_xmp_fails_when_the_signed_metadata_is_not_the_records(pdfa: Path, pki: DevPki,
                                                               tmp_path: Path) -> None:
    expected = _signed(pki, pdfa, tmp_path / "signed.pdf")
    another = replace(expected, dublin_core=dataclasses.replace(INFO, title="Another title"))
    failed = _failed((tmp_path / "signed.pdf").read_bytes(), pki, another)
    assert list(failed) == ["xmp"], failed
    assert failed["xmp"].startswith("the signed XMP differs from the record's metadata")
    assert "title" in failed["xmp"]


def test_ades_fails_for_a_copy_the_record_calls_b_lta_that_is_not(pdfa: Path,
                                                                 animator: DevPki,
                                                                 tmp_path: Path) -> None:
    """A B-T copy (time-stamped, no validation data, no archive time-stamp) under a record
    that says B-LTA: the AdES LTA validation does not pass, and says so."""
    expected = _signed(animator, pdfa, tmp_path / "bt.pdf", level="B-T",
                       tsa_url=animator.tsa_url)
    claimed = replace(expected, signature={**expected.signature, "level": "B-LTA"})
    failed = _failed((tmp_path / "bt.pdf").read_bytes(), animator, claimed)
    assert list(failed) == ["ades"], failed
    assert failed["ades"].startswith("AdES LTA verdict") and "PASSED" not in failed["ades"]


_VERIFY_OFFLINE = ["unshare", "--net", sys.executable, "-m", "records.cli", "verify",
                   "--json", "--file"]


def test_the_verdict_is_the_same_without_any_network(pdfa: Path, animator: DevPki,
                                                     home: Path, tmp_path: Path) -> None:
    """Verification never fetches: a B-LTA copy, verified in a network namespace of its own
    (no route to the TSA and OCSP responder that served its signing, nor anywhere), gets
    the verdict it gets with them up."""
    if os.geteuid() != 0:
        pytest.skip("a network namespace of its own needs root (CI runs as root)")
    _signed(animator, pdfa, tmp_path / "lta.pdf", level="B-LTA", tsa_url=animator.tsa_url)
    env = {**os.environ, "RECORDS_HOME": str(home)}
    online = subprocess.run([*_VERIFY_OFFLINE[2:], str(tmp_path / "lta.pdf")], env=env,
                            capture_output=True, text=True, timeout=300)
    offline = subprocess.run([*_VERIFY_OFFLINE, str(tmp_path / "lta.pdf")], env=env,
                             capture_output=True, text=True, timeout=300)
    assert online.returncode == 0, online.stdout + online.stderr
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert json.loads(offline.stdout) == json.loads(online.stdout)
    probe = subprocess.run(["unshare", "--net", sys.executable, "-c",
                            "import socket; socket.create_connection(('127.0.0.1', "
                            f"{animator.service_url.rsplit(':', 1)[1]}), 2)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0  # the namespace really cannot reach the services
