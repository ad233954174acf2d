"""Machine faults as a records officer meets them at the command line: clear, early, harmless."""

from __future__ import annotations

import json
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


def test_a_classification_records_does_not_know_stops_the_queue(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    """Read as "the highest" a typo would silently change what the officer asked for."""
    done = run(["queue", str(_batch(scans, tmp_path)), "--unit", "LT",
                "--classification", "secrett"], home)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'secrett' is not one of public" in done.stderr and "Traceback" not in done.stderr
    assert not (home / "batches").exists() or not list((home / "batches").iterdir())


def test_queue_json_carries_the_manifest_warnings(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    """A hot folder reads only the JSON: the reason and the warnings must be in it."""
    batch = _batch(scans, tmp_path)
    (batch / "manifest.csv").write_bytes("source;classification;title\r\nLETTER.PNG;secret;"
                                         "Prüfung\r\n".encode("cp1252"))
    done = run(["queue", str(batch), "--unit", "LT", "--json"], home)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert any("not Unicode" in w for w in result["warnings"])
    assert any("'LETTER.PNG' taken as 'letter.png'" in w for w in result["warnings"])
    shown = run(["show", result["documents"][0]["record_id"], "--json"], home)
    assert '"classification": "secret"' in shown.stdout, shown.stdout + shown.stderr


def test_broken_settings_and_an_unreachable_database_are_one_line(tmp_path: Path,
                                                                  home: Path) -> None:
    config = tmp_path / "records.toml"
    config.write_text("[ocr]\nlanguagess = 'vie'\n")
    done = run(["status"], home, {"RECORDS_CONFIG": str(config)})
    assert done.returncode == 2
    assert done.stderr.strip() == (f"the settings cannot be used (RECORDS_CONFIG {config} or "
                                   "RECORDS_* variables): ocr.languagess: not a setting "
                                   "records knows")
    url = f"postgresql+psycopg://records:hunter2@127.0.0.1:{free_port()}/records"
    searched = run(["search", "anything"], home, {"RECORDS_CATALOG__URL": url})
    assert searched.returncode == 2, searched.stderr
    [line] = searched.stderr.strip().splitlines()
    assert line.startswith("records stopped: the catalog database cannot be used")
    assert "hunter2" not in searched.stderr


def test_an_unexpected_error_is_one_line_unless_debugging(tmp_path: Path, home: Path) -> None:
    """A home that is a file: no command expects it. One line, exit 1; the traceback only
    with RECORDS_DEBUG."""
    odd = tmp_path / "home-is-a-file"
    odd.write_text("")
    done = run(["status"], home, {"RECORDS_HOME": str(odd)})
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("records stopped:") and "RECORDS_DEBUG=1" in line
    debug = run(["status"], home, {"RECORDS_HOME": str(odd), "RECORDS_DEBUG": "1"})
    assert "Traceback" in debug.stderr


# A library that warns as it is imported, as cryptography 51 does when pyHanko imports its DSA
# keys: injected through sitecustomize, so the test holds whatever the installed versions say.
NOISY_IMPORT = '''
import importlib.abc, sys, warnings

class Noisy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pyhanko":
            warnings.warn("injected: a library deprecates something", UserWarning)
        return None

sys.meta_path.insert(0, Noisy())
'''


def test_a_library_warning_never_reaches_the_terminal(tmp_path: Path, home: Path) -> None:
    """The refusal stays one line; with RECORDS_DEBUG=1 the warning shows (the control)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NOISY_IMPORT)
    args = ["edit", "VP-2024-000001", "--title", "New", "--why", "x"]
    noisy = {"PYTHONPATH": str(tmp_path / "site")}
    debug = run(args, home, {**noisy, "RECORDS_DEBUG": "1"})
    assert "injected: a library deprecates something" in debug.stderr, debug.stderr
    done = run(args, home, noisy)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no record VP-2024-000001" in done.stderr
