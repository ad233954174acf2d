"""Every promise the README makes is proven by a test that fails without it.

``tests/promises.toml`` names, for each row of the README's fault table ("Bad input and
faults: what happens") and each verification check ("Archivists: verify a copy"), the tests
that make it happen for real and assert the promised outcome. These tests keep the map true:
a row or check without a test, a test that no longer exists, or an entry for a row the README
dropped fails ``make test``. In CI (``RECORDS_PROMISES_STRICT=1``, set by ``.ci/run``) a
promised test that was skipped fails the run too (``tests/conftest.py``): a row CI does not
exercise is not a promise kept.
"""

from __future__ import annotations

import ast
import re
import tomllib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMISES = Path(__file__).with_name("promises.toml")


def _section(title: str) -> list[str]:
    """The README's lines under the heading *title*, up to the next heading of its level."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(title)
    level = title.split(" ")[0] + " "
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(level)),
               len(lines))
    return lines[start + 1:end]


def _rows(lines: list[str], header: str) -> list[str]:
    """First cells of the data rows of every table whose header row starts with *header*."""
    cells, inside = [], False
    for line in lines:
        if line.startswith(header):
            inside = True
            continue
        if not line.startswith("|"):
            inside = False
        elif inside and not re.fullmatch(r"\|[-| :]+\|", line):
            cells.append(line.split(" | ")[0].removeprefix("| ").strip())
    return cells


def fault_rows() -> list[str]:
    return _rows(_section("## Bad input and faults: what happens"), "| input or fault |")


def verification_checks() -> list[str]:
    cells = _rows(_section("## Archivists: verify a copy"), "| check | fails when |")
    return [name for cell in cells for name in re.findall(r"`([a-z0-9-]+)`", cell)]


@cache
def promises() -> dict[str, dict[str, list[str]]]:
    """{"fault": {row: tests}, "check": {name: tests}} from ``promises.toml``."""
    data = tomllib.loads(PROMISES.read_text(encoding="utf-8"))
    return {"fault": {entry["row"]: entry["tests"] for entry in data.get("fault", [])},
            "check": {entry["name"]: entry["tests"] for entry in data.get("check", [])}}


def promised_tests() -> set[str]:
    """Every test id the map names ("path::function" or "path::Class::method")."""
    return {test for kind in promises().values() for tests in kind.values() for test in tests}


def _defined(test: str) -> bool:
    path, *names = test.split("::")
    source = ROOT / path
    if not source.is_file() or not names:
        return False
    scope: list[ast.stmt] = ast.parse(source.read_text(encoding="utf-8")).body
    for name in names:
        found = next((node for node in scope if isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name),
            None)
        if found is None:
            return False
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return names[-1].startswith("test")


def test_the_readme_tables_are_found() -> None:
    """The parser sees the tables (a renamed heading would make every check below empty)."""
    assert len(fault_rows()) >= 40 and "zero-byte file" in fault_rows()
    assert {"pdfa", "xmp", "certification", "log-leaves"} <= set(verification_checks())


def test_every_fault_row_is_proven_by_a_test() -> None:
    unproven = [row for row in fault_rows() if not promises()["fault"].get(row)]
    assert not unproven, "README fault rows with no test in tests/promises.toml:\n" + \
        "\n".join(unproven)


def test_every_verification_check_is_proven_by_a_test() -> None:
    unproven = [name for name in verification_checks() if not promises()["check"].get(name)]
    assert not unproven, f"verification checks with no test: {unproven}"


def test_the_map_names_only_rows_and_tests_that_exist() -> None:
    stale_rows = set(promises()["fault"]) - set(fault_rows())
    stale_checks = set(promises()["check"]) - set(verification_checks())
    missing = sorted(test for test in promised_tests() if not _defined(test))
    assert not stale_rows, f"rows the README no longer has: {sorted(stale_rows)}"
    assert not stale_checks, f"checks the README no longer has: {sorted(stale_checks)}"
    assert not missing, f"tests that do not exist: {missing}"
