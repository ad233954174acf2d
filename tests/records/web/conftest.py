"""An archive with three signed records of different classifications, and three users."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.access import add_user, issue_token
from archive.index import Catalog, index_package
from archive.signing import DevPki, SignOptions, load_signer, sign_log, sign_pdf, vouch_with
from archive.store import Descriptive, Event, dublin_core, sidecar, store_record
from config.settings import Settings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests.conftest import Scans

PASSWORD = "correct horse battery"
RECORDS = {  # record id -> (language, seed, classification)
    "VP-2024-000001": ("vie", 61, "public"),
    "VP-2024-000002": ("vie", 62, "internal"),
    "HA-2024-000001": ("deu", 63, "secret"),
}
USERS = {"reader": ("archivist", "public"), "clerk": ("officer", "internal"),
         "boss": ("admin", "secret")}


@dataclass(frozen=True)
class WebArchive:
    home: Path
    settings: Settings
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def web_archive(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory
                ) -> WebArchive:
    home = tmp_path_factory.mktemp("web") / "home"
    shutil.copytree(pki.folder, home / "keys")
    settings = Settings(home=home)
    signer = load_signer(settings.signing, home)
    catalog = Catalog.open(settings.catalog_url())
    work = tmp_path_factory.mktemp("web-work")
    for record_id, (language, seed, classification) in RECORDS.items():
        page, _ = scans.page(language, seed=seed)
        described = Descriptive(title=f"Letter {seed}", unit=record_id.split("-")[0],
                                classification=classification, date=f"2024-05-{seed % 9 + 1:02d}",
                                language=language)
        unsigned, signed = work / f"{record_id}.pdf", work / f"{record_id}.signed.pdf"
        result = ocr_to_pdfa([page], unsigned, OcrOptions(languages=language), work / "cache",
                             dublin_core(described, record_id))
        signature = sign_pdf(signer, SignOptions(), unsigned, signed)
        stored = store_record(
            home / "archive", content_sha=record_id.lower().ljust(64, "0"), unit=described.unit,
            year=2024, source=page, pdf=signed, page_dirs=[p.path for p in result.pages],
            record_id=record_id, vouch=vouch_with(signer),
            sidecar=sidecar(described, {"page_count": 1},
                            [Event("received", "success"), Event("stored", "success")], "web",
                            "x", page.name,
                            signature.as_dict()))
        index_package(catalog, stored.path)
    sign_log(home, signer, SignOptions())
    tokens = {}
    for name, (role, clearance) in USERS.items():
        add_user(catalog, name, role, clearance, PASSWORD)
        tokens[name] = issue_token(catalog, name)[1]
    catalog.engine.dispose()
    return WebArchive(home, settings, tokens)
