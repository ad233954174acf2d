"""Machine faults as a records officer meets them at the command line: clear, early, harmless."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import Scans, free_port
from tests.records.cli.test_cli import run


def _batch(scans: Scans, tmp_path: Path) -> Path:
    batch = tmp_path / "batch"
    batch.mkdir()
    page, _ = scans.page("eng", seed=51)
    (batch / "letter.png").write_bytes(page.read_bytes())
    return batch


def test_missing_tesseract_stops_the_batch_before_anything_is_touched(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    """Every tool on PATH but Tesseract: exit 1, naming the package; no ledger, no quarantine."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
            if tool.name != "tesseract" and not (bare / tool.name).exists():
                (bare / tool.name).symlink_to(tool)
    batch = _batch(scans, tmp_path)
    done = run(["queue", str(batch), "--unit", "LT"], home, {"PATH": str(bare)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Tesseract is not installed" in done.stderr and "tesseract-ocr" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (home / "batches").exists() or not list((home / "batches").iterdir())
    assert not (home / "quarantine").exists()


def test_a_missing_language_pack_is_named(scans: Scans, tmp_path: Path, home: Path) -> None:
    done = run(["queue", str(_batch(scans, tmp_path)), "--unit", "LT", "--lang", "eng+khm"],
               home)
    assert done.returncode == 1
    assert "no language pack for 'khm'" in done.stderr and "tesseract-ocr-khm" in done.stderr


def test_an_unreachable_catalog_database_is_a_clear_error_without_its_password(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    url = f"postgresql+psycopg://archivist:Pw-n0t-for-logs@127.0.0.1:{free_port()}/records"
    done = run(["queue", str(_batch(scans, tmp_path)), "--unit", "LT"], home,
               {"RECORDS_CATALOG__URL": url})
    assert done.returncode == 1
    assert "the catalog database was unavailable" in done.stderr
    assert "Connection refused" in done.stderr or "connection failed" in done.stderr
    assert "Pw-n0t-for-logs" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
