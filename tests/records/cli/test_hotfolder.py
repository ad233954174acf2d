"""``records watch``: the hot folder end to end, as a scanning station and an officer see it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archive.intake import Inbox
from archive.store import RecordPaths, record_ids
from records.cli import watch as hotfolder
from records.cli.watch import (
    QueueOptions,
    failure_text,
    queue_command,
    run_queue,
    summarise,
    tail,
)
from tests.conftest import Scans

WATCH = [sys.executable, "-c",
         "import typer; from records.cli.watch import watch; typer.run(watch)"]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    return env


def watch(args: list[str], home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*WATCH, *args], env=environment(home), capture_output=True, text=True,
                          timeout=600)


def test_once_queues_the_good_batch_and_refuses_the_linked_one(scans: Scans, tmp_path: Path,
                                                               home: Path) -> None:
    page, _ = scans.page("eng", seed=71)
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(page.read_bytes())
    inbox = tmp_path / "inbox"
    (inbox / "good").mkdir(parents=True)
    (inbox / "good" / "letter.png").write_bytes(page.read_bytes())
    (inbox / "good" / "READY").touch()
    (inbox / "bad").mkdir()
    (inbox / "bad" / "letter.png").write_bytes(page.read_bytes())
    (inbox / "bad" / "page-3.png").symlink_to(secret)
    (inbox / "stray.png").write_bytes(b"dropped loose")

    done = watch([str(inbox), "--unit", "TCCT", "--once", "--stable", "0"], home)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    queued = inbox / ".queued" / "good"
    assert (queued / "letter.png").read_bytes() == page.read_bytes()
    assert not (queued / "READY").exists()  # the marker is not taken for a record
    records = record_ids(home / "archive")
    assert [name[:5] for name in records] == ["TCCT-"]
    record = RecordPaths(home / "archive" / records[0], records[0])
    [name] = [p for p in record.inventory.state() if p.startswith("originals/")]
    original = record.file(name)
    assert name.endswith("letter.png") and original is not None
    assert original.read_bytes() == page.read_bytes()

    refused = inbox / ".refused" / "bad"
    assert (refused / "letter.png").read_bytes() == page.read_bytes()
    assert os.readlink(refused / "page-3.png") == str(secret)
    reason = (inbox / ".refused" / "bad.reason.txt").read_text(encoding="utf-8")
    assert f"contains a symbolic link: page-3.png -> {secret}" in reason
    assert "links could pull files from outside the batch" in reason
    assert secret.read_bytes() == page.read_bytes()

    assert (inbox / "stray.png").read_bytes() == b"dropped loose"  # ignored, left alone
    assert sorted(p.name for p in inbox.iterdir() if not p.name.startswith(".")) == ["stray.png"]
    log = done.stderr
    for event in ("found", "ready", "queued", "refused", "ignored"):
        assert f" {event} " in log, log
    queued_line = next(line for line in log.splitlines() if " queued " in line)
    assert "batch 2" in queued_line and "1 archived" in queued_line


def test_a_failed_queue_goes_to_failed_with_its_reason(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "batch").mkdir(parents=True)
    (inbox / "batch" / "scan.png").write_bytes(b"not even an image")
    done = watch([str(inbox), "--unit", "VP", "--once", "--stable", "0"], tmp_path / "no-keys")
    assert done.returncode == 0, done.stderr
    assert (inbox / ".failed" / "batch" / "scan.png").read_bytes() == b"not even an image"
    reason = (inbox / ".failed" / "batch.reason.txt").read_text(encoding="utf-8")
    assert "exit code 2" in reason and "records keys init" in reason
    assert " failed " in done.stderr and "Traceback" not in done.stderr
    assert not (inbox / ".queued" / "batch").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "growing").mkdir(parents=True)
    (inbox / "growing" / "page-1.png").write_bytes(b"x")
    watcher = subprocess.Popen([*WATCH, str(inbox), "--unit", "VP", "--poll", "0.2"],
                               env=environment(tmp_path / "h"), stderr=subprocess.PIPE, text=True)
    assert watcher.stderr is not None
    lines = [watcher.stderr.readline() for _ in range(2)]
    assert " found " in lines[1], lines
    watcher.send_signal(signum)
    rest = watcher.stderr.read()
    assert watcher.wait(30) == 0
    assert f"stopped  {inbox} ({signum.name})" in rest and "Traceback" not in rest
    assert (inbox / "growing" / "page-1.png").read_bytes() == b"x"  # not yet stable: untouched


def test_a_second_watcher_on_the_same_inbox_is_refused(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = subprocess.Popen([*WATCH, str(inbox), "--unit", "VP"], env=environment(tmp_path),
                             stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None and " watching " in first.stderr.readline()
        second = watch([str(inbox), "--unit", "VP", "--once"], tmp_path)
        assert second.returncode == 2 and "already" in second.stderr
    finally:
        first.terminate()
        assert first.wait(30) == 0


def test_missing_inbox_is_a_usage_error(tmp_path: Path) -> None:
    done = watch([str(tmp_path / "nope"), "--unit", "VP", "--once"], tmp_path)
    assert done.returncode == 2 and "no such folder" in done.stderr


def test_a_stopped_queue_is_ended_with_its_process_group() -> None:
    started = time.monotonic()
    child = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    finished = run_queue([sys.executable, "-c", child], stopped=lambda: True, grace=10)
    assert finished.interrupted and finished.code == -signal.SIGTERM
    assert time.monotonic() - started < 10


def test_a_queue_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    deaf = tmp_path / "deaf"
    child = ("import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
             f"pathlib.Path({str(deaf)!r}).touch(); time.sleep(60)")
    finished = run_queue([sys.executable, "-c", child], stopped=deaf.exists, grace=1)
    assert finished.interrupted and finished.code == -signal.SIGKILL


def test_a_queue_that_finishes_is_not_interrupted() -> None:
    child = "import sys; print('{}'); sys.stderr.write('note\\n'); sys.exit(3)"
    finished = run_queue([sys.executable, "-c", child], stopped=lambda: False)
    assert (finished.code, finished.stdout, finished.stderr) == (3, "{}\n", "note\n")
    assert not finished.interrupted


def test_a_batch_stopped_mid_queue_goes_back_to_the_inbox(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    for name in (".queued", ".refused", ".failed"):
        (inbox / name).mkdir(parents=True)
    (inbox / "batch").mkdir()
    (inbox / "batch" / "scan.png").write_bytes(b"x")
    (inbox / "batch" / "READY").touch()
    started = tmp_path / "started"
    slow = [sys.executable, "-c",
            f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"]
    monkeypatch.setattr(hotfolder, "queue_command", lambda batch, options: slow)
    stop = hotfolder.Stop()
    threading.Thread(target=lambda: (_wait_for(started), setattr(stop, "requested", True)),
                     daemon=True).start()
    [ready] = Inbox(inbox, stable=30).scan(now=0).ready
    hotfolder.take(ready, inbox, QueueOptions("VP"), stop)
    assert (inbox / "batch" / "scan.png").read_bytes() == b"x"
    assert (inbox / "batch" / "READY").exists()  # taken again at once when the watcher restarts
    assert not any((inbox / ".queued").iterdir()) and not any((inbox / ".failed").iterdir())


def test_queue_command_passes_only_what_was_given(tmp_path: Path) -> None:
    assert queue_command(tmp_path, QueueOptions("TCCT")) == [
        sys.executable, "-m", "records.cli", "queue", str(tmp_path), "--unit", "TCCT", "--json"]
    full = queue_command(tmp_path, QueueOptions("VP", "Kế hoạch 2024", "internal", "vie"))
    assert full[5:] == ["--unit", "VP", "--series", "Kế hoạch 2024", "--lang", "vie",
                        "--classification", "internal", "--json"]


def test_summarise_reads_the_json_or_finds_a_batch_id() -> None:
    stdout = ('{"batch_id": "20240916-101500-3fa2c1d0", "documents": [{"status": "archived"},'
              ' {"status": "quarantined"}, {"status": "archived"}]}')
    summary = summarise("\x1b[1m" + stdout + "\x1b[0m")
    assert summary.batch_id == "20240916-101500-3fa2c1d0"
    assert summary.counts == {"archived": 2, "quarantined": 1}
    assert summarise("", "batch 20240916-101500-3fa2c1d0: starting").batch_id \
        == "20240916-101500-3fa2c1d0"
    assert summarise("", "boom").batch_id is None


def test_failure_text_keeps_the_last_lines() -> None:
    stderr = "\n".join(f"line {n}" for n in range(50)) + "\ncannot sign archival copies: no key\n"
    text = failure_text("b", 2, stderr)
    assert "exit code 2" in text and "cannot sign archival copies: no key" in text
    assert "line 31" in text and "line 30" not in text
    assert "stopped by signal SIGKILL" in failure_text("b", -9, "")
    assert tail("a\n\n b \n") == "a\n b"


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
