"""``records watch INBOX``: the hot folder scanning stations drop batch folders into.

Each batch folder that is ready (a ``READY`` file, or unchanged for ``--stable`` seconds) is
moved into ``INBOX/.queued`` and run through ``records queue`` in a child process; refused
batches go to ``INBOX/.refused`` and failed ones to ``INBOX/.failed``, each with a
``<name>.reason.txt``. One line is logged per event. Exit codes: 0 stopped (SIGINT, SIGTERM,
or after one pass with ``--once``), 1 the inbox could not be read, 2 usage (no such inbox,
another watcher on it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from config.errors import ExitCode
from records.cli.console import classification_level, err, fail, shown

if TYPE_CHECKING:
    from archive.intake import Inbox, Ready

BATCH_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{8}\b")
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
GRACE = 30.0  # seconds a stopped `records queue` gets to exit before it is killed
COLOURS = {"found": "cyan", "ready": "cyan", "queued": "green", "refused": "yellow",
           "failed": "red", "ignored": "yellow", "returned": "magenta",
           "warning": "yellow"}


def log(event: str, message: str) -> None:
    """One line per event, with the local time: a log that runs for weeks needs the date."""
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
    colour = COLOURS.get(event, "bold")
    err.print(f"{stamp} [{colour}]{event:<8}[/] {shown(message)}", highlight=False)


@dataclass(frozen=True)
class QueueOptions:
    """What ``records watch`` passes on to ``records queue``; None leaves queue's default."""

    unit: str
    series: str | None = None
    classification: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class QueueSummary:
    """What ``records queue --json`` said about a batch it ran."""

    batch_id: str | None
    counts: dict[str, int]  # archived / quarantined / failed -> documents
    warnings: list[str] = field(default_factory=list)  # the batch's, its manifest's above all


def queue_command(batch: Path, options: QueueOptions) -> list[str]:
    """The ``records queue`` command for one batch, run as a child process.

    A child keeps everything exactly as ``records queue`` has it (settings, embedded or server
    Prefect, the signing check, exit codes), and a crash of one batch cannot kill the watcher.
    ``--json`` gives a result to read and no progress bar in the logs.
    """
    command = [sys.executable, "-m", "records.cli", "queue", str(batch), "--unit", options.unit]
    for flag, value in (("--series", options.series), ("--lang", options.lang),
                        ("--classification", options.classification)):
        if value is not None:
            command += [flag, value]
    return [*command, "--json"]


def plain(text: str) -> str:
    """Terminal colour codes removed (a FORCE_COLOR in the environment adds them)."""
    return ANSI.sub("", text)


def summarise(stdout: str, stderr: str = "") -> QueueSummary:
    """The batch id and document counts from ``records queue --json``; when it printed no
    JSON (it failed), any batch id the output mentions."""
    counts: dict[str, int] = {}
    warnings: list[str] = []
    try:
        result = json.loads(plain(stdout))
        batch_id = result["batch_id"]
        for document in result["documents"]:
            counts[document["status"]] = counts.get(document["status"], 0) + 1
        warnings = [str(w) for w in result.get("warnings", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        match = BATCH_ID.search(plain(stdout + "\n" + stderr))
        batch_id = match.group(0) if match else None
    return QueueSummary(batch_id, counts, warnings)


def tail(text: str, lines: int = 20) -> str:
    """The last non-blank lines of a command's output, where its error message is."""
    kept = [line.rstrip() for line in plain(text).splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _exit_meaning(code: int) -> str:
    if code == ExitCode.failure:
        return "exit code 1: the run failed for a reason outside the scans (an engine crashed " \
               "or timed out)"
    if code == ExitCode.usage:
        return "exit code 2: it was refused before it started (for example no signing key, " \
               "see below)"
    if code < 0:
        try:
            return f"it was stopped by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"it was stopped by signal {-code}"
    return f"exit code {code}"


def failure_text(name: str, code: int, stderr: str) -> str:
    """The reason file of a batch ``records queue`` failed on: what it said last."""
    said = tail(stderr) or "(it wrote nothing)"
    return (f"The batch folder \"{name}\" was not archived: `records queue` failed on it, "
            f"{_exit_meaning(code)}.\n\nThe last lines it wrote:\n\n"
            + "\n".join(f"    {line}" for line in said.splitlines())
            + "\n\nRecords already archived from it stay archived. Once the cause is fixed, "
            "move this folder back into the inbox: pages already recognised are not "
            "recognised again, and nothing is archived twice.\n")


class Stop:
    """Set by SIGINT or SIGTERM. The loop looks at it between steps, so a batch is never left
    half-moved; a running ``records queue`` is stopped and its batch returned to the inbox."""

    def __init__(self) -> None:
        self.requested = False
        self.by = ""

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        # Only flags here: printing from a handler could cut into a line being printed.
        self.by = self.by or signal.Signals(signum).name
        self.requested = True

    def sleep(self, seconds: float) -> None:
        """Sleep in short steps so that a signal ends the wait at once."""
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))


@dataclass(frozen=True)
class Finished:
    """How a ``records queue`` child ended. ``interrupted``: we stopped it before it ended."""

    code: int
    stdout: str
    stderr: str
    interrupted: bool = False


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has already ended
        os.killpg(process.pid, signum)


def run_queue(command: list[str], stopped: Callable[[], bool],
              grace: float = GRACE) -> Finished:
    """Run *command* in its own session and wait, stopping it if *stopped* turns true.

    Its own session: a Ctrl-C at the terminal reaches the watcher only, which then ends the
    child's whole process group (Tesseract and Prefect's server included) with SIGTERM, and
    with SIGKILL after *grace* seconds. Output goes to temporary files, never a full pipe.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        sent = False
        while True:
            try:
                code = process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopped() and not sent:
                    sent = True
                    _signal_group(process, signal.SIGTERM)
                    try:
                        code = process.wait(timeout=grace)
                    except subprocess.TimeoutExpired:
                        _signal_group(process, signal.SIGKILL)
                        code = process.wait()
                    break
        out.seek(0)
        err.seek(0)
        return Finished(code, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"),
                        interrupted=sent and code not in (ExitCode.ok, ExitCode.quarantined))


def take(ready: Ready, root: Path, options: QueueOptions, stop: Stop) -> None:
    """Claim one ready batch, check it, queue it; set it aside with a reason if it is bad."""
    from archive.intake import (
        FAILED,
        MARKER,
        QUEUED,
        REFUSED,
        claim,
        holding,
        problems,
        refusal_text,
        remove_marker,
        set_aside,
    )
    name = ready.folder.name
    log("ready", f"{name}: {ready.why}")
    try:
        claimed = claim(ready.folder, holding(root, QUEUED))
    except FileNotFoundError:
        log("ignored", f"{name}: it went away before it could be taken")
        return
    found = problems(claimed, root)
    if found:
        target = set_aside(claimed, holding(root, REFUSED), refusal_text(name, found), name=name)
        log("refused", f"{name} -> {target.relative_to(root)}: {'; '.join(found)}")
        return
    had_marker = remove_marker(claimed)
    finished = run_queue(queue_command(claimed, options), lambda: stop.requested)
    summary = summarise(finished.stdout, finished.stderr)
    if finished.interrupted:
        back = claim(claimed, root, name=name)
        if had_marker:
            (back / MARKER).touch()
        log("returned", f"{name}: stopped before it finished; back in the inbox as {back.name},"
            " to be queued again (finished pages are not redone)")
        return
    if finished.code in (ExitCode.ok, ExitCode.quarantined):
        counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
        log("queued", f"{name} -> {claimed.relative_to(root)}: batch {summary.batch_id or '?'}"
            + (f" ({counts})" if counts else ""))
        for warning in summary.warnings:
            log("warning", f"{name}: {warning}")
        return
    reason = failure_text(name, finished.code, finished.stderr)
    target = set_aside(claimed, holding(root, FAILED), reason, name=name)
    last = tail(finished.stderr, lines=1) or f"exit code {finished.code}"
    log("failed", f"{name} -> {target.relative_to(root)}: {last.strip()}")


def one_pass(inbox: Inbox, options: QueueOptions, stop: Stop) -> None:
    """Look once, log what is new, take what is ready; one bad batch never stops the rest."""
    scan = inbox.scan(time.monotonic())
    for path in scan.ignored:
        log("ignored", f"{path.name}: a file directly in the inbox; a station must drop each "
            "batch as a folder")
    for folder in scan.found:
        log("found", folder.name)
    for ready in scan.ready:
        if stop.requested:
            return
        inbox.forget(ready.folder)
        try:
            take(ready, inbox.root, options, stop)
        except Exception as exc:
            log("failed", f"{ready.folder.name}: {type(exc).__name__}: {exc}")


def watch(
    inbox: Annotated[Path, typer.Argument(help="The folder scanning stations drop batches into")],
    unit: Annotated[str, typer.Option("--unit", help="Unit the records belong to")],
    series: Annotated[str | None, typer.Option("--series")] = None,
    classification: Annotated[str | None, typer.Option(
        "--classification", callback=classification_level,
        help="Passed to records queue (default: public)")] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="Tesseract languages joined by +, e.g. vie+eng (default: settings)")
    ] = None,
    stable: Annotated[float, typer.Option(
        "--stable", min=0, help="Seconds a batch must stay unchanged to be taken without READY")
    ] = 30,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between looks")] = 5,
    once: Annotated[bool, typer.Option("--once", help="Look once, take what is ready, exit")
                    ] = False,
) -> None:
    """Watch a hot folder: queue each batch folder a scanning station drops into INBOX."""
    from archive.intake import HOLDING, Inbox, InboxError, holding, watching
    root = inbox.resolve()
    if not root.is_dir():
        err.print(f"[red]no such folder:[/red] {shown(str(inbox))}")
        raise typer.Exit(ExitCode.usage)
    options = QueueOptions(unit, series, classification, lang)
    stop = Stop()
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT,
                                                                  signal.SIGTERM)}
    try:
        for name in HOLDING:
            holding(root, name)
        with watching(root):
            code = _loop(Inbox(root, stable), options, stop, poll, once)
    except InboxError as exc:
        fail(exc, f"cannot watch {root}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    raise typer.Exit(code)


def _loop(inbox: Inbox, options: QueueOptions, stop: Stop, poll: float, once: bool) -> int:
    from archive.intake import MARKER
    log("watching", f"{inbox.root}: a batch is taken when it holds a {MARKER} file or nothing "
        f"in it changed for {inbox.stable:g} s" + ("" if once else "; Ctrl-C stops"))
    while not stop.requested:
        try:
            one_pass(inbox, options, stop)
        except OSError as exc:  # the inbox itself: a share gone away, permissions changed
            log("failed", f"cannot read the inbox: {exc}")
            if once:
                return ExitCode.failure
        if once:
            if inbox.waiting:
                log("waiting", f"not ready yet: {', '.join(inbox.waiting)}")
            break
        stop.sleep(poll)
    log("stopped", str(inbox.root) + (f" ({stop.by})" if stop.by else ""))
    return ExitCode.ok
