"""Fixtures for the archive tests: one real PDF/A with Dublin Core, made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from ocr.xmp import DocumentInfo
from tests.conftest import Scans

INFO = DocumentInfo(title="Kế hoạch số hóa", author="BỘ QUỐC PHÒNG / VĂN PHÒNG",
                    language="vi", identifier="VP-2024-000001", date="2024-09-16",
                    type="KẾ HOẠCH", source="12/KH-VP", rights="Classification: public",
                    publisher="VP", subjects=("Kế hoạch 2024",))


@pytest.fixture(scope="session")
def pdfa(scans: Scans, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real searchable PDF/A-2b with Dublin Core, as the pipeline makes it."""
    page, _ = scans.page("vie", seed=4)
    folder = tmp_path_factory.mktemp("pdfa")
    out = folder / "copy.pdf"
    ocr_to_pdfa([page], out, OcrOptions(languages="vie"), folder / "cache", INFO)
    return out


