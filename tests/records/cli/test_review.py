"""Review and correction at the command line, as an archivist at the archive's server runs
it: each correction a new version that `records show` names and `records diff` compares, the
review queue emptied by a person's act, declassification by two logins, and every refusal
one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from archive.access import AccessError, AuditLog, User
from archive.index import Catalog
from archive.review import approve
from archive.signing import DevPki
from archive.store import RecordPaths
from tests.conftest import Scans
from tests.records.cli.test_cli import run
from tests.review_records import FILED, SECRET, copy_of, pristine_home

LAN, THU = {"LOGNAME": "lan", "USER": "lan"}, {"LOGNAME": "thu", "USER": "thu"}
WIDE = {"COLUMNS": "300"}


@pytest.fixture(scope="module")
def pristine(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pristine_home(scans, pki, tmp_path_factory, "cli-review", seed=80)


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    return copy_of(pristine, tmp_path)


def as_json(done: subprocess.CompletedProcess) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def one_line_refusal(done: subprocess.CompletedProcess, words: str) -> None:
    """Exit 2 and one line that says why, never a traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    said = done.stderr.strip()
    assert words in said and len(said.splitlines()) == 1 and "Traceback" not in said, said


def test_edit_makes_a_version_that_show_history_and_diff_name(home: Path) -> None:
    made = as_json(run(["edit", FILED, "--title", "Kế hoạch số hóa tài liệu", "--type",
                        "KẾ HOẠCH", "--why", "the title was the scan's file name", "--seen",
                        "v1", "--json"], home, LAN))
    assert made["version"] == "v2" and made["by"] == "cli:lan"
    assert made["changes"] == {"title": {"before": "scan-0042",
                                         "after": "Kế hoạch số hóa tài liệu"},
                               "document_type": {"before": "", "after": "KẾ HOẠCH"}}
    again = run(["edit", FILED, "--date", "2024-09-18", "--subject", "[/] số hóa",
                 "--subject", "2024", "--why", "misread day"], home, {**LAN, **WIDE})
    assert again.returncode == 0, again.stderr
    assert f"{FILED} v3: corrected by cli:lan" in again.stderr
    assert "2024-09-16" in again.stdout and "2024-09-18" in again.stdout
    assert "[/] số hóa; 2024" in again.stdout  # data shown literally, never read as markup
    paths = RecordPaths(home / "archive" / FILED, FILED)
    assert paths.inventory.head == "v3"
    assert paths.read_sidecar()["descriptive"]["title"] == "scan-0042"  # as archived

    shown = run(["show", FILED], home, WIDE)
    assert shown.returncode == 0, shown.stderr
    assert "Kế hoạch số hóa tài liệu" in shown.stdout and "corrected by cli:lan" in shown.stdout
    assert "misread day" in shown.stdout and "date, subjects" in shown.stdout  # versions
    assert "extracted" in shown.stdout  # the issuer's source: as it was read
    first = run(["show", FILED, "--version", "1"], home, WIDE)
    assert first.returncode == 0 and "scan-0042" in first.stdout, first.stderr
    assert "Kế hoạch số hóa tài liệu  (" not in first.stdout  # only in the versions section
    assert "the current version is v3" in first.stdout
    described = as_json(run(["show", FILED, "--json"], home))
    assert described["version"] == "v3"
    assert described["descriptive"]["date"] == "2024-09-18"
    assert described["descriptive"]["sources"]["title"].startswith("corrected by cli:lan, ")
    assert [(v["version"], v["correction"]) for v in described["versions"]] == [
        ("v1", False), ("v2", True), ("v3", True)]
    assert as_json(run(["show", FILED, "--version", "v2", "--json"], home)
                   )["descriptive"]["date"] == "2024-09-16"
    one_line_refusal(run(["show", FILED, "--version", "v9"], home), "has no version 'v9'")

    changed = as_json(run(["diff", FILED, "v1", "v3", "--json"], home))
    assert set(changed["changes"]) == {"title", "document_type", "date", "subjects"}
    assert changed["changes"]["date"] == {"before": "2024-09-16", "after": "2024-09-18"}
    assert set(as_json(run(["diff", FILED, "2", "--json"], home))["changes"]) == {
        "date", "subjects"}  # to the current version by default
    table = run(["diff", FILED, "v1", "v2"], home, WIDE)
    assert "scan-0042" in table.stdout and "Kế hoạch số hóa tài liệu" in table.stdout
    history = as_json(run(["history", FILED, "--json"], home))
    assert [v["why"] for v in history["versions"]][1:] == [
        "the title was the scan's file name", "misread day"]

    # Each version is vouched for by the seal, so the whole history verifies.
    checked = run(["verify", "--all", "--json"], home)
    assert checked.returncode == 0, checked.stdout
    actions = [(e["action"], e["user"]) for e in AuditLog(home).entries()
               if e["record_id"] == FILED]
    assert actions.count(("correct", "cli:lan")) == 2


def test_the_review_queue_and_reviewed_nothing_to_correct(home: Path) -> None:
    queue = as_json(run(["review", "--json"], home))
    assert queue["total"] == 1 and queue["per_unit"] == {"VP": 1}
    [entry] = queue["entries"]
    assert entry["record_id"] == FILED
    assert "title is the file name: no subject line was read" in entry["reasons"]
    listed = run(["review"], home, WIDE)
    assert "1 record wait" in listed.stdout and "per unit: VP 1" in listed.stdout
    assert FILED in listed.stdout and "no type was read" in listed.stdout
    assert as_json(run(["review", "--unit", "HN", "--json"], home))["total"] == 0

    reviewed = run(["edit", FILED, "--reviewed", "--why", "checked against the paper"], home,
                   LAN)
    assert reviewed.returncode == 0, reviewed.stderr
    assert "v2: reviewed by cli:lan, nothing to correct" in reviewed.stderr
    assert as_json(run(["review", "--json"], home))["total"] == 0
    assert "no records wait for review" in run(["review"], home).stderr
    history = as_json(run(["history", FILED, "--json"], home))["versions"]
    assert (history[-1]["correction"], history[-1]["changes"]) == (True, {})
    assert "reviewed, nothing to correct" in run(["history", FILED], home, WIDE).stdout


def test_declassification_is_proposed_here_and_approved_by_a_second_account(
        home: Path) -> None:
    """Everyone at the server's command line runs as the archive's own account, so the
    command line proposes and refuses, and a second person signed in approves."""
    one_line_refusal(run(["edit", SECRET, "--classification", "internal", "--why", "published"],
                         home, LAN), "declassification")
    proposed = as_json(run(["declassify", "propose", SECRET, "--to", "internal", "--why",
                            "the plan was published", "--json"], home, LAN))
    assert (proposed["state"], proposed["proposed_by"]) == ("open", "cli:lan")
    number = str(proposed["id"])
    listed = run(["declassify", "list"], home, WIDE)
    assert SECRET in listed.stdout and "the plan was published" in listed.stdout
    no_approval = run(["declassify", "approve", number], home, WIDE)
    assert no_approval.returncode == 2 and "No such command" in no_approval.stderr
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")
    with pytest.raises(AccessError, match="second person"):  # lan, signed in: the same person
        approve(home, catalog, User("lan", "admin", 4), int(number), vouch=None)
    assert catalog.get(SECRET)["classification"] == "secret"

    done = approve(home, catalog, User("thu", "admin", 4), int(number), vouch=None)
    assert (done.correction.proposed_by, done.correction.approved_by) == ("cli:lan", "thu")
    assert as_json(run(["declassify", "list", "--json"], home)) == []
    assert catalog.get(SECRET)["classification"] == "internal"
    shown = run(["show", SECRET], home, WIDE)
    assert "internal" in shown.stdout, shown.stderr

    again = as_json(run(["declassify", "propose", SECRET, "--to", "public", "--why", "old",
                         "--json"], home, LAN))
    refused = run(["declassify", "refuse", str(again["id"])], home, THU)
    assert refused.returncode == 0 and "refused by cli:thu" in refused.stderr, refused.stderr
    assert RecordPaths(home / "archive" / SECRET, SECRET).inventory.head == "v2"
    one_line_refusal(run(["declassify", "propose", SECRET, "--to", "secret", "--why", "x"],
                         home, LAN), "is not lower")


@pytest.mark.parametrize(("args", "words"), [
    (["edit", FILED, "--date", "16.09.2024", "--why", "x"], "not a date (YYYY-MM-DD)"),
    (["edit", FILED, "--classification", "top", "--why", "x"], "not one of"),
    (["edit", FILED, "--language", "Vietnamese", "--why", "x"], "Tesseract"),
    (["edit", FILED, "--title", " ", "--why", "x"], "title cannot be empty"),
    (["edit", FILED, "--title", "scan-0042", "--why", "x"], "nothing to correct"),
    (["edit", FILED, "--title", "New", "--why", " "], "the reason cannot be empty"),
    (["edit", FILED, "--title", "New", "--why", "x", "--seen", "v7"], "changed since"),
    (["edit", FILED, "--why", "x"], "name a field to correct"),
    (["edit", FILED, "--reviewed", "--title", "x", "--why", "x"], "without fields"),
    (["edit", "VP-2024-000404", "--title", "x", "--why", "x"], "no record VP-2024-000404"),
    (["show", "VP-2024-000404"], "no record VP-2024-000404"),
    (["diff", FILED, "v1", "v2"], "has no version 'v2'"),
    (["declassify", "refuse", "99"], "no declassification proposal 99"),
    (["declassify", "propose", FILED, "--to", "cosmic", "--why", "x"], "not one of"),
])
def test_refusals_are_one_line_and_exit_2_and_change_nothing(home: Path, args: list[str],
                                                             words: str) -> None:
    one_line_refusal(run(args, home, LAN), words)
    assert RecordPaths(home / "archive" / FILED, FILED).inventory.head == "v1"
