"""Two signed, catalogued records for the tests of review and correction (the archive wing's
and the command line's): one the machine described badly, one its officer described."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archive.index import Catalog, index_package
from archive.signing import (
    ArchiveSigner,
    DevPki,
    SignOptions,
    load_pkcs12,
    sign_log,
    sign_pdf,
    trust_roots,
    vouch_with,
)
from archive.store import Descriptive, Event, dublin_core, sidecar, store_record
from config.settings import SigningSettings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests.conftest import Scans

FILED = "VP-2024-000001"  # a title that is its file name, no type or number: in the queue
SECRET = "VP-2024-000002"  # secret, described by its manifest: not in the queue
DESCRIBED = {
    FILED: Descriptive(title="scan-0042", unit="VP", date="2024-09-16", language="vie",
                       classification="internal", issuer="BỘ QUỐC PHÒNG",
                       sources={"title": "default", "date": "extracted", "issuer": "extracted"}),
    SECRET: Descriptive(title="Kế hoạch bảo mật", unit="VP", date="2024-09-17", language="vie",
                        classification="secret", document_type="KẾ HOẠCH", issuer="VĂN PHÒNG",
                        document_number="7/KH-VP",
                        sources={name: "manifest" for name in (
                            "title", "date", "document_type", "issuer", "document_number")}),
}


def organisation(pki: DevPki) -> ArchiveSigner:
    """The development PKI's organisation seal, as the archive signs with it."""
    roots = trust_roots(SigningSettings(), pki.folder.parent)
    return load_pkcs12(pki.pkcs12("organisation"), pki.passphrase_file.read_bytes(),
                       "organisation", roots)


def signed_records(home: Path, scans: Scans, pki: DevPki, work: Path, seed: int) -> None:
    """``DESCRIBED`` archived in ``home`` (with the PKI's keys) as the flow archives them:
    OCR'd, signed, stored with the seal's promise, catalogued, under a signed head."""
    shutil.copytree(pki.folder, home / "keys")
    signer = organisation(pki)
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")
    for n, (record_id, description) in enumerate(DESCRIBED.items(), start=1):
        page, _ = scans.page("vie", seed=seed + n)
        unsigned, signed = work / f"{n}.pdf", work / f"{n}.signed.pdf"
        result = ocr_to_pdfa([page], unsigned, OcrOptions(languages="vie"), work / "cache",
                             dublin_core(description, record_id))
        signature = sign_pdf(signer, SignOptions(), unsigned, signed)
        stored = store_record(
            home / "archive", content_sha=str(n) * 64, unit="VP", year=2024, source=page,
            pdf=signed, page_dirs=[p.path for p in result.pages], record_id=record_id,
            vouch=vouch_with(signer),
            sidecar=sidecar(description, {"page_count": 1}, [Event("stored", "success")], "B",
                            str(n) * 64, page.name, signature.as_dict()))
        index_package(catalog, stored.path, later_checks=[])
    sign_log(home, signer, SignOptions())
    catalog.engine.dispose()


def pristine_home(scans: Scans, pki: DevPki, factory: pytest.TempPathFactory, name: str,
                  seed: int) -> Path:
    """A module's home of ``signed_records``, built once (OCR is slow) in temporary folders
    named ``name``."""
    home = factory.mktemp(name) / "home"
    signed_records(home, scans, pki, factory.mktemp(f"{name}-work"), seed=seed)
    return home


def copy_of(pristine: Path, tmp_path: Path) -> Path:
    """A test's own copy of a module's home: corrections add versions to its records."""
    target = tmp_path / "home"
    shutil.copytree(pristine, target, symlinks=True)
    return target
