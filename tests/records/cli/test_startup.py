"""Start-up: the command line loads the archive, the databases and the signing stack only for
the commands that use them, so ``records --help`` answers at once (timed by bench/startup.py,
never here: these machines are noisy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# What a command that does no OCR, no signing and no search must not pay for at start-up.
# (pydantic itself is typer's: it converts a command's parameters with it.)
HEAVY = ("sqlalchemy", "pyhanko", "pydantic_settings", "pikepdf", "prefect", "tantivy", "PIL",
         "certomancer", "cryptography", "psycopg", "numpy", "jinja2", "archive", "flows", "ocr",
         "config.settings", "records.batches", "records.runtime")

PROBE = """
import json, sys
sys.argv = ["records", *ARGS]
from records.cli import main
try:
    main()
except SystemExit:
    pass
inside = tuple(h + "." for h in HEAVY)
loaded = sorted({m for m in sys.modules if m in HEAVY or m.startswith(inside)})
print(json.dumps(loaded), file=sys.stderr)
"""


def loaded_modules(*args: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``records ARGS``."""
    code = PROBE.replace("ARGS", repr(list(args))).replace("HEAVY", repr(HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("search", "--help"), ("verify", "--help"),
                                  ("users", "--help"), ("roadmap", "--help")])
def test_help_loads_nothing_heavy(args: tuple[str, ...]) -> None:
    assert loaded_modules(*args) == []


def test_the_help_still_names_the_shared_vocabularies() -> None:
    """The role, clearance and milestone lists come from config.vocabulary, which the archive
    uses too: the help cannot drift from what the archive accepts."""
    from archive.access import ROLES
    from archive.roadmap import MILESTONE_STATES
    from archive.store import LEVELS

    def help_of(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "records.cli", *args, "--help"],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "COLUMNS": "300"}).stdout

    assert ", ".join(ROLES) in help_of("users", "add")
    assert ", ".join(LEVELS) in help_of("users", "add")
    assert " | ".join(MILESTONE_STATES) in help_of("roadmap", "milestone")
