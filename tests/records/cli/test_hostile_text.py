"""Text from the archive or a person reaches an administrator's terminal literally: rich markup
is not obeyed (it used to end `records show` with a MarkupError), and ANSI escapes, line
breaks and bidi overrides are shown as escapes, so nothing can hide text or fake a row."""

from __future__ import annotations

import json
from pathlib import Path

from archive.access import AuditLog
from tests.conftest import Scans
from tests.records.cli.test_cli import run

TITLE = "[/] x [bold]y"
FILE = "[white on white]b\x1b[8mhidden\x1b[0m\u202egnp.png"


def test_titles_file_names_and_user_names_are_printed_literally(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    page, _ = scans.page("eng", seed=61)
    (batch / FILE).write_bytes(page.read_bytes())
    other, words = scans.page("eng", seed=62)
    word = max(words.split(), key=len).strip(".,;:")
    (batch / "t.png").write_bytes(other.read_bytes())
    (batch / "manifest.csv").write_text(f'source,title\nt.png,"{TITLE}"\n', encoding="utf-8")
    queued = run(["queue", str(batch), "--unit", "VP"], home, {"COLUMNS": "300"})
    assert queued.returncode == 0, queued.stderr
    assert "[white on white]b\\x1b[8mhidden\\x1b[0m\\u202egnp.png" in queued.stdout
    assert "\x1b" not in queued.stdout and "\u202e" not in queued.stdout

    batch_id = json.loads(run(["status", "--json"], home).stdout)[0]["batch_id"]
    status = run(["status", batch_id], home, {"COLUMNS": "300"})
    assert status.returncode == 0 and "\\x1b[8mhidden" in status.stdout, status.stderr

    documents = json.loads(run(["status", batch_id, "--json"], home).stdout)["documents"]
    [record_id] = [d["record_id"] for d in documents if d["source"] == "t.png"]
    shown = run(["show", record_id], home, {"COLUMNS": "300"})
    assert shown.returncode == 0, shown.stderr
    assert TITLE in shown.stdout and "Traceback" not in shown.stderr
    found = run(["search", word], home, {"COLUMNS": "300"})
    assert found.returncode == 0 and TITLE in found.stdout, found.stderr

    added = run(["users", "add", "[/]\x1b[2Jroot", "--role", "archivist", "--clearance",
                 "public"], home, {"RECORDS_NEW_PASSWORD": "a long enough passphrase 1"})
    assert added.returncode == 2  # no such account name: refused, and said literally
    assert "[/]\\x1b[2Jroot" in added.stderr and "\x1b" not in added.stderr
    # A name nobody may take still reaches the audit log, from a failed web sign-in.
    AuditLog(home).record("[/]\x1b[2Jroot", "login", outcome="denied", client="127.0.0.1")
    audit = run(["audit", "show"], home, {"COLUMNS": "300"})
    assert "[/]\\x1b[2Jroot" in audit.stdout
    assert audit.returncode == 0, audit.stderr
    assert "\x1b" not in audit.stdout


def test_a_long_error_is_one_line_whatever_the_width(tmp_path: Path, home: Path) -> None:
    """Logs and grep see an error whole: it is never wrapped when not on a terminal."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 6) / "missing"
    done = run(["queue", str(deep), "--unit", "VP"], home, {"COLUMNS": "40"})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("no such file or folder: ") and line.endswith("/missing")
