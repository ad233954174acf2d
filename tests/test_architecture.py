"""The layers of docs/architecture.md hold, and the contracts that keep them would catch a
forbidden import: each case adds one to a copy of the code and expects its contract broken."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("records", "flows", "archive", "ocr", "config")
WINGS = ("store", "index", "signing", "access", "intake", "roadmap", "review")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the code in ``where`` (no cache: a copy must be read afresh)."""
    if not LINT.is_file():
        pytest.fail(f"{LINT} is missing: `pip install -e '.[test]'` installs import-linter")
    return subprocess.run([str(LINT), "--no-cache"], cwd=where, capture_output=True, text=True,
                          timeout=120)


def test_every_contract_is_kept() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("ocr/dpi.py", "import archive", "Packages import downward only"),
    ("archive/store/ids.py", "import prefect", "Only the flows and the front ends know Prefect"),
    ("archive/signing/verify.py", "import flows", "Packages import downward only"),
    ("archive/index/catalog.py", "import records.cli", "Packages import downward only"),
    ("flows/retries.py", "import records", "Packages import downward only"),
    ("archive/intake/ledger.py", "import typer", "The archive knows no command line"),
    ("archive/index/search.py", "from archive.roadmap import Roadmap",
     "Wings of the archive import downward only"),
    ("archive/access/audit.py", "from archive.signing import Verdict",
     "Wings of the archive import downward only"),
    ("archive/intake/ledger.py", "from archive.store.files import write_json",
     "The store is used through its public surface"),
    ("flows/digitise.py", "from archive.index.catalog import Catalog",
     "The index is used through its public surface"),
    ("records/cli/copies.py", "from archive.signing.sign import load_signer",
     "Signing is used through its public surface"),
    ("records/web/auth.py", "from archive.access.accounts import authenticate",
     "Access is used through its public surface"),
    ("archive/roadmap/progress.py", "from archive.intake.ledger import Ledger",
     "Intake is used through its public surface"),
    ("archive/review/queue.py", "from archive.roadmap import Roadmap",
     "Wings of the archive import downward only"),
    ("flows/digitise.py", "from archive.review.edit import correct_record",
     "Review is used through its public surface"),
    ("flows/roadmap.py", "from archive.roadmap.service import measure_roadmap",
     "The roadmap is used through its public surface"),
    ("archive/store/files.py", "import archive.store.packages",
     "No import cycles between the modules of any package"),
    ("flows/retries.py", "import flows.digitise",
     "Flows: deployments over the batch flow over the roadmap and fixity flows"),
    ("records/runtime.py", "import records.cli",
     "Front ends: the command line over the web app over the batch runner"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str,
                                                contract: str) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a", encoding="utf-8") as code:
        code.write(f"\n{line}  # noqa\n")
    done = lint(tmp_path)
    assert done.returncode != 0, done.stdout
    broken = [row for row in done.stdout.splitlines() if row.endswith(" BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout


@pytest.mark.parametrize("wing", WINGS)
def test_each_wing_says_what_it_is_and_every_name_it_offers_exists(wing: str) -> None:
    package = importlib.import_module(f"archive.{wing}")
    assert package.__doc__ and len(package.__doc__.split()) > 30
    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert not missing, f"archive.{wing} offers names it does not have: {missing}"
    modules = {p.stem for p in (ROOT / "archive" / wing).glob("*.py")} - {"__init__"}
    clashing = modules & set(package.__all__)
    assert not clashing, f"names of archive.{wing} that are also its modules: {clashing}"
