"""Verification catches each way an archived copy can be tampered with, and names it."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from archive.signing import (
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
from tests.conftest import Scans

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
