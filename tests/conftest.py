"""Shared fixtures: rendered scans (no corpus needed), the corpus when present, a clean home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ocr.quality import cer
from records.samples import PageStyle, make_letter, render_page, save_page

__all__ = ["Scans", "cer", "corpus_path", "pdftotext"]

ROOT = Path(__file__).resolve().parents[1]


def corpus_path() -> Path:
    return Path(os.environ.get("RECORDS_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_path()
    if not (path / "MANIFEST.tsv").is_file():
        pytest.skip(f"corpus absent at {path} (set RECORDS_CORPUS to run corpus tests)")
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh RECORDS_HOME for the test, and nothing from the user's environment."""
    target = tmp_path / "home"
    monkeypatch.setenv("RECORDS_HOME", str(target))
    for name in list(os.environ):
        if name.startswith("RECORDS_") and name not in ("RECORDS_HOME", "RECORDS_CORPUS"):
            monkeypatch.delenv(name)
    return target


def pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True).stdout.decode("utf-8")


class Scans:
    """Renders single letter pages on demand, once per style, for the whole session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def page(self, language: str = "vie", seed: int = 1, name: str | None = None,
             **style: object) -> tuple[Path, str]:
        """One rendered page and its exact text."""
        look = PageStyle(**style)  # type: ignore[arg-type]
        suffix = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "tiff-g4": ".tif"}[look.encoding]
        path = self.folder / (name or f"{language}-{seed}-{abs(hash(look))}{suffix}")
        text = make_letter(language, seed, pages=1).pages[0]
        if not path.exists():
            save_page(render_page(text, look, seed=seed), path, look)
        return path, text


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    return Scans(tmp_path_factory.mktemp("scans"))
