"""What the command line writes to the audit log, and what ``records audit`` says about it:
every search, view and verification of a record, and every account change, names the person
at the machine as ``cli:<login>``; a damaged log is named, and a kept head catches a rewrite
that re-chains the log."""

from __future__ import annotations

import getpass
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog
from archive.signing import DevPki
from archive.store import RecordPaths
from config.settings import Settings
from records.web.app import create_app
from tests.conftest import Scans
from tests.records.cli.test_cli import run

ME = f"cli:{getpass.getuser()}"  # how the command line names whoever runs it
PASSWORD = "a long enough passphrase 7"
WIDE = {"COLUMNS": "250"}  # a table row stays on one line


@pytest.fixture(scope="module")
def archived(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, str]:
    """A RECORDS_HOME holding one record, archived by ``records queue`` (once per module);
    and the record's id."""
    home = tmp_path_factory.mktemp("audit-archive") / "home"
    shutil.copytree(pki.folder, home / "keys")
    page, _ = scans.page("eng", seed=33)
    done = run(["queue", str(page), "--unit", "VP", "--json"], home)
    assert done.returncode == 0, done.stderr
    [document] = json.loads(done.stdout)["documents"]
    assert document["status"] == "archived", document
    return home, document["record_id"]


@pytest.fixture
def archive_home(archived: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A copy of the archived home of this test's own (its audit log included)."""
    template, record_id = archived
    home = tmp_path / "home"
    shutil.copytree(template, home, symlinks=True)
    return home, record_id


def new_entries(home: Path, before: int) -> list[dict[str, Any]]:
    return AuditLog(home).entries()[before:]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a rich table as cells (the header and rules left out)."""
    return [[cell.strip() for cell in line.strip("│").split("│")]
            for line in text.splitlines() if line.startswith("│")]


# --- 1. searches, views and verifications at the command line are audited -----------------

def test_cli_search_is_audited_with_its_user_query_and_result_count(
        archive_home: tuple[Path, str]) -> None:
    home, record_id = archive_home
    before = len(AuditLog(home).entries())
    done = run(["search", "conservation", "--json"], home)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert [hit["record_id"] for hit in found["hits"]] == [record_id]
    [entry] = new_entries(home, before)
    assert entry["user"] == ME and entry["action"] == "search"
    assert entry["query"] == "conservation" and entry["results"] == 1
    assert entry["outcome"] == "ok" and entry["record_id"] is None


def test_cli_show_is_audited_as_a_view_of_that_record(archive_home: tuple[Path, str]) -> None:
    home, record_id = archive_home
    before = len(AuditLog(home).entries())
    done = run(["show", record_id], home)
    assert done.returncode == 0, done.stderr
    assert record_id in done.stdout
    earlier = run(["show", record_id, "--version", "v1", "--json"], home)
    assert earlier.returncode == 0, earlier.stderr
    first, second = new_entries(home, before)
    assert (first["user"], first["action"], first["record_id"], first["outcome"]) == (
        ME, "view", record_id, "ok")
    assert "version" not in first  # the current version: nothing more to say
    assert (second["user"], second["action"], second["record_id"], second["version"]) == (
        ME, "view", record_id, "v1")


def test_cli_show_of_an_unknown_record_is_audited_as_denied(
        archive_home: tuple[Path, str]) -> None:
    """A probe for record ids leaves a trace, as it does in the web app."""
    home, _ = archive_home
    before = len(AuditLog(home).entries())
    done = run(["show", "VP-2099-000009"], home)
    assert done.returncode == 2
    [entry] = new_entries(home, before)
    assert (entry["user"], entry["action"], entry["record_id"], entry["outcome"]) == (
        ME, "view", "VP-2099-000009", "denied")


def test_cli_verify_is_audited_with_the_record_and_its_outcome(
        archive_home: tuple[Path, str]) -> None:
    home, record_id = archive_home
    before = len(AuditLog(home).entries())
    passed = run(["verify", record_id], home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    pdf = RecordPaths(home / "archive" / record_id, record_id).pdf
    pdf.chmod(0o644)
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pdf.write_bytes(bytes(data))
    failed = run(["verify", record_id], home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    ok, bad = new_entries(home, before)
    assert (ok["user"], ok["action"], ok["record_id"], ok["outcome"]) == (
        ME, "verify", record_id, "ok")
    assert (bad["user"], bad["action"], bad["record_id"], bad["outcome"]) == (
        ME, "verify", record_id, "failed")


# --- 2. `records audit verify`: damage named, the head to keep, and --head --------------

def five_entries(home: Path) -> list[bytes]:
    audit = AuditLog(home)
    for number in range(1, 6):
        audit.record(f"user{number}", "search", query=f"query {number}")
    return audit.path.read_bytes().splitlines()


def printed_head(done: Any) -> str:
    [line] = [line for line in done.stdout.splitlines() if line.startswith("head ")]
    return line.removeprefix("head ").strip()


def test_audit_verify_of_an_intact_log_prints_the_head_to_keep(home: Path) -> None:
    lines = five_entries(home)
    done = run(["audit", "verify"], home)
    assert done.returncode == 0, done.stderr
    assert "audit log intact: 5 entries" in done.stderr
    assert printed_head(done) == hashlib.sha256(lines[-1]).hexdigest()


def test_audit_verify_refuses_an_empty_head(home: Path) -> None:
    """`--head "$KEPT"` with KEPT unset must not pass as if no head were kept."""
    five_entries(home)
    done = run(["audit", "verify", "--head", ""], home)
    assert done.returncode == 2
    assert "--head is empty" in done.stderr and "head " not in done.stdout


def test_audit_verify_names_an_edited_entry(home: Path) -> None:
    lines = five_entries(home)
    lines[1] = lines[1].replace(b'"user": "user2"', b'"user": "someone"')
    AuditLog(home).path.write_bytes(b"\n".join(lines) + b"\n")
    done = run(["audit", "verify"], home)
    assert done.returncode == 1
    assert "line 3 does not follow line 2" in done.stderr
    assert "intact" not in done.stderr and "head " not in done.stdout
    assert "Traceback" not in done.stderr


def test_audit_verify_names_a_deleted_entry(home: Path) -> None:
    lines = five_entries(home)
    del lines[2]
    AuditLog(home).path.write_bytes(b"\n".join(lines) + b"\n")
    done = run(["audit", "verify"], home)
    assert done.returncode == 1
    assert "line 3 does not follow line 2" in done.stderr
    assert "intact" not in done.stderr and "head " not in done.stdout


def test_audit_verify_names_an_inserted_entry_even_one_chained_to_its_predecessor(
        home: Path) -> None:
    lines = five_entries(home)
    forged = json.dumps({"action": "search", "outcome": "ok", "query": "planted",
                         "previous": hashlib.sha256(lines[1]).hexdigest(), "record_id": None,
                         "time": "2026-01-01T00:00:00.000+00:00", "user": "user2"},
                        sort_keys=True).encode()
    AuditLog(home).path.write_bytes(b"\n".join([*lines[:2], forged, *lines[2:]]) + b"\n")
    done = run(["audit", "verify"], home)
    assert done.returncode == 1
    assert "line 4 does not follow line 3" in done.stderr  # the entry after the planted one
    assert "intact" not in done.stderr and "head " not in done.stdout


def test_audit_verify_with_the_kept_head_catches_a_rechained_rewrite(home: Path) -> None:
    from tests.archive.signing.test_tamper import rechain

    five_entries(home)
    head = printed_head(run(["audit", "verify"], home))
    kept = run(["audit", "verify", "--head", head], home)
    assert kept.returncode == 0, kept.stderr
    assert printed_head(kept) == head

    rechain(AuditLog(home).path, lambda entry: entry.update(query="nothing to see"))
    alone = run(["audit", "verify"], home)  # no signed head here: the chain alone is fooled
    assert alone.returncode == 0 and printed_head(alone) != head
    caught = run(["audit", "verify", "--head", head], home)
    assert caught.returncode == 1
    assert f"not at the head {head[:16]}" in caught.stderr
    assert "entries were cut off or added at the end" in caught.stderr
    assert "head " not in caught.stdout


def test_audit_verify_with_the_kept_head_catches_a_cut_off_tail(home: Path) -> None:
    lines = five_entries(home)
    head = printed_head(run(["audit", "verify"], home))
    AuditLog(home).path.write_bytes(b"\n".join(lines[:-1]) + b"\n")
    assert run(["audit", "verify"], home).returncode == 0  # a shorter chain is still a chain
    caught = run(["audit", "verify", "--head", head], home)
    assert caught.returncode == 1
    assert f"not at the head {head[:16]}" in caught.stderr


# --- 3. `records audit show` ------------------------------------------------------------

def test_audit_show_lists_the_last_entries_and_leaves_out_a_damaged_line(
        archive_home: tuple[Path, str]) -> None:
    home, record_id = archive_home
    assert run(["search", "conservation"], home).returncode == 0
    assert run(["verify", record_id], home).returncode == 0
    audit = AuditLog(home)
    with audit.path.open("ab") as handle:  # a crash mid-append leaves half a line
        handle.write(b'{"time": "2026-01-01", "user": "half-written-mallory", "action": "d')
    assert run(["show", record_id], home).returncode == 0
    assert b"half-written-mallory" in audit.path.read_bytes()

    shown = run(["audit", "show"], home, WIDE)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    assert "half-written-mallory" not in shown.stdout
    rows = [row[1:] for row in table_rows(shown.stdout)]  # without the time
    assert rows == [[ME, "search", "", "ok"], [ME, "verify", record_id, "ok"],
                    [ME, "view", record_id, "ok"]]
    times = [row[0] for row in table_rows(shown.stdout)]
    assert times == [e["time"] for e in audit.entries()]

    last = run(["audit", "show", "--tail", "2"], home, WIDE)
    assert [row[1:] for row in table_rows(last.stdout)] == [[ME, "verify", record_id, "ok"],
                                                           [ME, "view", record_id, "ok"]]
    damaged = run(["audit", "verify"], home)
    assert damaged.returncode == 1 and "line 3 is damaged: not a JSON entry" in damaged.stderr


# --- 4. accounts and tokens: audited, and a token works (or stops) in the web API at once ---

def add_user(home: Path, name: str) -> Any:
    return run(["users", "add", name, "--role", "archivist", "--clearance", "public"], home,
               {"RECORDS_NEW_PASSWORD": PASSWORD})


@pytest.fixture
def web(home: Path) -> Iterator[TestClient]:
    """The web app on the same home the commands manage, running throughout the test."""
    with TestClient(create_app(Settings(home=home))) as client:
        yield client


def test_users_add_is_audited_with_the_administrator_and_the_account(home: Path) -> None:
    done = add_user(home, "ana")
    assert done.returncode == 0, done.stderr
    assert "added ana (archivist, cleared public)" in done.stderr
    [entry] = AuditLog(home).entries()
    assert (entry["user"], entry["action"], entry["target"]) == (ME, "user-added", "ana")
    assert (entry["role"], entry["clearance"], entry["outcome"]) == ("archivist", "public", "ok")
    assert PASSWORD not in AuditLog(home).path.read_text()


def every_file(home: Path) -> Iterator[Path]:
    return (path for path in home.rglob("*") if path.is_file())


def test_users_token_is_printed_once_works_as_a_bearer_and_is_stored_only_as_a_hash(
        home: Path, web: TestClient) -> None:
    assert add_user(home, "ana").returncode == 0
    done = run(["users", "token", "ana"], home)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert secret.startswith("rec_") and done.stdout.count(secret) == 1
    assert secret not in done.stderr
    token_id = AuditLog(home).entries()[-1]["token_id"]
    assert f"token {token_id} for ana" in done.stderr
    assert f"records users revoke {token_id}" in done.stderr

    answer = web.get("/api/search", params={"q": "quyet"},
                     headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 0  # an empty archive, searched as ana
    issued, searched = AuditLog(home).entries()[1:]
    assert (issued["user"], issued["action"], issued["target"]) == (ME, "token-issued", "ana")
    assert (searched["user"], searched["action"], searched["query"]) == ("ana", "search",
                                                                        "quyet")

    for path in every_file(home):  # the catalog, its journal, the audit log, everything
        assert secret.encode() not in path.read_bytes(), path
    catalog = b"".join(p.read_bytes() for p in home.glob("catalog.sqlite*") if p.is_file())
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in catalog


def test_users_revoke_stops_the_token_at_once_and_is_audited(home: Path,
                                                             web: TestClient) -> None:
    assert add_user(home, "ana").returncode == 0
    secret = run(["users", "token", "ana"], home).stdout.strip()
    token_id = AuditLog(home).entries()[-1]["token_id"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert web.get("/api/search", params={"q": "x"}, headers=bearer).status_code == 200

    done = run(["users", "revoke", token_id], home)
    assert done.returncode == 0, done.stderr
    assert f"token {token_id} revoked" in done.stderr
    refused = web.get("/api/search", params={"q": "x"}, headers=bearer)  # the same app
    assert refused.status_code == 401
    revoked = [e for e in AuditLog(home).entries() if e["action"] == "token-revoked"]
    assert [(e["user"], e["token_id"]) for e in revoked] == [(ME, token_id)]

    again = run(["users", "revoke", token_id], home)
    assert again.returncode == 2 and f"no active token {token_id}" in again.stderr
    assert len([e for e in AuditLog(home).entries() if e["action"] == "token-revoked"]) == 1
