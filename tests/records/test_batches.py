"""Batches a front end received start in turn, in processes of their own, and what waits
survives a restart of the front end."""

from __future__ import annotations

import os
import time
from pathlib import Path

from archive.intake import Ledger, UploadRecord, load_upload, save_upload, upload_folder
from records.batches import Starter, last_error


def waiting_upload(home: Path, batch_id: str, received: str) -> UploadRecord:
    folder = upload_folder(home, batch_id)
    folder.mkdir(parents=True)
    (folder / "empty.png").write_bytes(b"")  # quarantined at once: no OCR to wait for
    record = UploadRecord(batch_id, "clerk", "VP", received=received)
    save_upload(home, record)
    return record


def test_a_batch_waits_while_another_runs_and_starts_when_it_ends(home: Path) -> None:
    running = UploadRecord("20261203-090000-00000001", "clerk", "VP", pid=os.getpid(),
                           received="2026-12-03T09:00:00+00:00")
    save_upload(home, running)  # a batch running now (this process is alive)
    waiting_upload(home, "20261203-090100-00000002", "2026-12-03T09:01:00+00:00")
    starter = Starter(home, at_once=1)
    starter.resume()  # what a web app does when it starts
    assert load_upload(home, "20261203-090100-00000002").pid is None  # type: ignore[union-attr]

    running.exit_code = 0
    save_upload(home, running)
    starter.resume()
    started = load_upload(home, "20261203-090100-00000002")
    assert started is not None and started.pid is not None
    deadline = time.monotonic() + 300
    while (load_upload(home, started.batch_id).exit_code is None  # type: ignore[union-attr]
           and time.monotonic() < deadline):
        time.sleep(0.5)
    ended = load_upload(home, started.batch_id)
    assert ended is not None and ended.exit_code == 3, last_error(home, started.batch_id)
    report = Ledger(home).get(started.batch_id)  # run as `records queue` runs it
    assert report is not None and report.counts() == {"quarantined": 1}
    assert report.unit == "VP"


def test_a_start_that_fails_before_the_batch_says_why(home: Path) -> None:
    """`records queue` refuses before any ledger entry (here: no language pack for what was
    asked): the upload's record carries its one-line reason."""
    record = waiting_upload(home, "20261203-090200-00000003", "2026-12-03T09:02:00+00:00")
    record.languages = "klingon"
    save_upload(home, record)
    starter = Starter(home, at_once=1)
    starter.resume()
    deadline = time.monotonic() + 120
    while (load_upload(home, "20261203-090200-00000003").exit_code is None  # type: ignore[union-attr]
           and time.monotonic() < deadline):
        time.sleep(0.2)
    ended = load_upload(home, "20261203-090200-00000003")
    assert ended is not None and ended.exit_code == 1
    assert ended.error and "klingon" in ended.error and "Traceback" not in ended.error
    assert Ledger(home).get("20261203-090200-00000003") is None


def test_one_batch_that_cannot_start_never_stops_the_others(home: Path) -> None:
    """A record no command line can carry (a NUL) is marked, with why, and the next starts;
    a start claimed elsewhere is left alone; a pid now another process's is not "running"."""
    bad = waiting_upload(home, "20261203-090300-00000004", "2026-12-03T09:03:00+00:00")
    bad.series = "Letters\x00"
    save_upload(home, bad)
    claimed = waiting_upload(home, "20261203-090350-00000006", "2026-12-03T09:03:50+00:00")
    (home / "uploads" / f"{claimed.batch_id}.started").touch()  # another web process has it
    reused = UploadRecord("20261203-085900-00000007", "clerk", "VP", pid=os.getpid(),
                          pid_started=1, received="2026-12-03T08:59:00+00:00")
    save_upload(home, reused)  # its process ended long ago; this pid is now someone else's
    good = waiting_upload(home, "20261203-090400-00000005", "2026-12-03T09:04:00+00:00")
    good.languages = "klingon"  # ends quickly, refused before any OCR
    save_upload(home, good)
    Starter(home, at_once=1).resume()
    marked = load_upload(home, bad.batch_id)
    assert marked is not None and marked.exit_code == 1 and "not started" in (marked.error or "")
    assert load_upload(home, claimed.batch_id).pid is None  # type: ignore[union-attr]
    assert load_upload(home, reused.batch_id).exit_code == -1  # type: ignore[union-attr]
    started = load_upload(home, good.batch_id)
    assert started is not None and started.pid is not None
    deadline = time.monotonic() + 120
    while (load_upload(home, good.batch_id).exit_code is None  # type: ignore[union-attr]
           and time.monotonic() < deadline):
        time.sleep(0.2)


SERVER_PROBE = """
import json, sys
from config.settings import load_settings
from records.batches import server_url
print(json.dumps([server_url(load_settings()), "prefect" in sys.modules]))
"""


def _server_url(cwd: Path, **env: str) -> tuple[str, bool]:
    """records' answer to "which server?" in a fresh process, and whether it imported Prefect."""
    import json
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run([sys.executable, "-c", SERVER_PROBE], capture_output=True, text=True,
                          check=True, cwd=cwd, env={**clean, **env})
    url, imported = json.loads(done.stdout.strip().splitlines()[-1])
    return url, imported


def test_the_server_is_known_without_importing_prefect_when_nothing_could_name_one(
        home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _server_url(elsewhere, RECORDS_HOME=str(home)) == ("", False)
    named = _server_url(elsewhere, RECORDS_HOME=str(home), PREFECT_API_URL="http://p:4200/api")
    assert named == ("http://p:4200/api", False)


def test_a_server_named_in_a_prefect_profile_is_still_found(home: Path, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('active = "site"\n[profiles.site]\n'
                        'PREFECT_API_URL = "http://prefect.example:4200/api"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _server_url(elsewhere, RECORDS_HOME=str(home), PREFECT_PROFILES_PATH=str(profiles)
                       ) == ("http://prefect.example:4200/api", True)
