"""Running a batch: here (Prefect embedded) or on a Prefect server, and following it.

What ``records queue`` and ``records status`` do, without the terminal: the command line draws
progress bars from the callbacks, and any other front end can do the same. Nothing home-made
where Prefect does the job: a batch on a server is a run of the ``digitise`` deployment,
queued with ``run_deployment`` and the batch's content hash as idempotency key; a dead
worker's run is found by Prefect's heartbeat automation. The batch ledger tells pages done.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.intake import (
    BatchReport,
    Ledger,
    UploadRecord,
    list_uploads,
    load_upload,
    save_upload,
    upload_folder,
)
from archive.store import now
from config.errors import ExitCode, UsageError
from config.settings import Settings
from records import runtime

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
RERUNNABLE = ("FAILED", "CRASHED", "CANCELLED")
WAITING = ("SCHEDULED", "PENDING", "PAUSED", "LATE")

Progress = Callable[[BatchReport], None]
"""Called with the batch's ledger entry as it runs (pages done, pages total)."""


@dataclass(frozen=True)
class BatchOptions:
    """What a batch is queued with: the defaults its manifest may override per record."""

    unit: str
    series: str = ""
    classification: str = "public"
    languages: str | None = None
    redo_ocr: bool = False

    def parameters(self, paths: list[Path], batch_id: str) -> dict[str, Any]:
        """The ``digitise_batch`` flow's parameters for these scans."""
        return {"paths": [str(p) for p in paths], "batch_id": batch_id, "unit": self.unit,
                "series": self.series, "classification": self.classification,
                "languages": self.languages, "redo_ocr": self.redo_ocr}


# Where Prefect may find settings besides the environment: a profile, or files in the
# current folder. Without any of them nothing can name a server.
_PREFECT_SETTING_FILES = (".env", "prefect.toml", "pyproject.toml")


def server_url(settings: Settings, quiet: bool = True) -> str:
    """The server batches go to, or "" for the embedded default (Prefect's own setting, from
    the environment or the Prefect profile). Prefect reads its settings once, when first
    imported, so records' defaults for it are put in place first.

    Importing Prefect costs half a second, more than `records status` itself: when the
    environment names the server, or no file Prefect reads could name one, the answer is
    known without it."""
    runtime.prepare(settings, quiet=quiet)
    named = os.environ.get("PREFECT_API_URL")
    if named is not None:
        return named
    profiles = os.environ.get("PREFECT_PROFILES_PATH") or str(
        Path(os.environ["PREFECT_HOME"]) / "profiles.toml")
    if not any(Path(f).is_file() for f in (profiles, *_PREFECT_SETTING_FILES)):
        return ""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or ""


_BATCH_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{8}")


def is_batch_id(value: str) -> bool:
    return bool(_BATCH_ID.fullmatch(value))


def checked_batch_id(value: str | None) -> str | None:
    """A batch id as records makes them (time, then 8 hex digits of the content hash): the id
    names the ledger's file, so nothing else may pass."""
    if value is not None and not _BATCH_ID.fullmatch(value):
        raise UsageError(f"not a batch id: {value!r} (like 20261203-170501-0a1b2c3d)")
    return value


# ----------------------------------------------------------------------------- embedded


def run_here(settings: Settings, paths: list[Path], options: BatchOptions,
             batch_id: str | None = None, on_progress: Progress | None = None) -> BatchReport:
    """Run ``digitise_batch`` in this process (Prefect's embedded mode) as ``batch_id`` (by
    default a new one). ``on_progress`` is called from a watcher thread that follows the
    ledger, as any other process could."""
    home = runtime.prepare(settings)
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.digitise import digitise_batch
    from ocr.options import OcrOptions

    workers = OcrOptions.from_settings(settings.ocr).workers
    batch = batch_id or runtime.batch_id(paths)
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(Ledger(home), batch, done, on_progress),
                               daemon=True)
    if on_progress is not None:
        watcher.start()
    try:
        flow = digitise_batch.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
        return flow(**options.parameters([p.resolve() for p in paths], batch))
    except Exception as exc:
        _mark_failed(Ledger(home), batch, exc)
        raise
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()


def _mark_failed(ledger: Ledger, batch: str, exc: Exception) -> None:
    report = ledger.get(batch)
    if report:
        report.state, report.error, report.finished = "failed", str(exc), now()
        ledger.save(report)


def _watch(ledger: Ledger, batch: str, done: threading.Event,
           on_progress: Progress | None) -> None:
    while not done.wait(0.5):
        report = ledger.get(batch)
        if report and on_progress is not None:
            on_progress(report)


# ----------------------------------------------------------------------------- detached


@dataclass(frozen=True)
class Ended:
    """How a detached ``records queue`` ended: its exit code, what it printed (the JSON
    outcome) and the last line of its errors."""

    exit_code: int
    printed: str
    last_error: str


def queue_detached(home: Path, folder: Path, options: BatchOptions, batch_id: str,
                   logs: Path, on_end: Callable[[str, Ended], None]) -> int:
    """Queue a batch folder exactly as an officer at a terminal would, with ``records queue``
    in a process of its own: it runs here (embedded Prefect) or is submitted to the server,
    as the settings say. Its own session, so it outlives a restart of the process that
    started it; ``on_end(batch_id, ended)`` is called from a thread when it ends. Returns
    its pid."""
    command = [sys.executable, "-m", "records.cli", "queue", str(folder), f"--unit={options.unit}",
               f"--series={options.series}", f"--classification={options.classification}",
               f"--batch-id={batch_id}", "--json"]
    if options.languages:
        command.append(f"--lang={options.languages}")
    if options.redo_ocr:
        command.append("--redo-ocr")
    logs.mkdir(parents=True, exist_ok=True)
    printed, errors = logs / f"{batch_id}.out", logs / f"{batch_id}.err"
    # The home the batch was received in, whatever this process's environment says.
    env = {**os.environ, "RECORDS_HOME": str(home)}
    with printed.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True, env=env)
    threading.Thread(target=_reap, args=(process, batch_id, printed, errors, on_end),
                     daemon=True, name=f"queue-{batch_id}").start()
    return process.pid


def _reap(process: subprocess.Popen[bytes], batch_id: str, printed: Path, errors: Path,
          on_end: Callable[[str, Ended], None]) -> None:
    """Wait for the process (so it leaves no zombie that looks alive) and report its end."""
    code = process.wait()
    on_end(batch_id, Ended(code, printed.read_text(errors="replace"), _last_line(errors)))


CLAIM_SECONDS = 120  # a claimed start with no process after this was cut short by a crash


class Starter:
    """Batches a front end received, started in turn: at most ``at_once`` run here at a time
    (one batch already keeps every core busy), the rest wait in their upload records. What
    waits is on disk, so a restarted web app starts it (``resume``); a batch that was running
    when the web app stopped runs on in its own process.

    A start is claimed on disk (``uploads/<id>.started``, made exclusively) before it is
    made, so two threads, or two web processes on one home, never start a batch twice. A
    batch that cannot be started is marked so, with why, and the others start regardless."""

    def __init__(self, home: Path, at_once: int) -> None:
        self.home = home
        self.at_once = max(1, at_once)
        self._lock = threading.Lock()

    @property
    def logs(self) -> Path:
        return self.home / "uploads" / "logs"

    def _claim(self, batch_id: str) -> Path:
        return self.home / "uploads" / f"{batch_id}.started"

    def resume(self) -> None:
        """Note the batches whose process ended unseen (while the web app was down), then
        start what waits, oldest first, while fewer than ``at_once`` run. Never raises: it
        runs at start-up, after an upload and from a timer, and none of those may fail
        because of one batch."""
        with self._lock:
            try:
                self._resume()
            except Exception:  # the timer tries again; the uploads stay on disk
                logging.getLogger("records").exception("starting received batches")

    def _resume(self) -> None:
        uploads = list_uploads(self.home)
        running = 0
        for record in uploads:
            if record.exit_code is None and record.pid is not None:
                if process_alive(record.pid, record.pid_started):
                    running += 1
                else:
                    self._ended_unseen(record)
        waiting = []
        for record in (u for u in uploads if u.exit_code is None and u.pid is None):
            claimed = self._claim(record.batch_id)
            if not claimed.exists():
                waiting.append(record)
            elif time.time() - claimed.stat().st_mtime > CLAIM_SECONDS:  # died mid-start
                record.exit_code, record.error = -1, "its start was interrupted: queue the " \
                    "scans again"
                save_upload(self.home, record)
        waiting.sort(key=lambda u: u.received)
        for record in waiting:
            if running >= self.at_once:
                break
            running += self._start(record)

    def _ended_unseen(self, record: UploadRecord) -> None:
        record.exit_code = -1  # unknown: not this process's child
        if Ledger(self.home).get(record.batch_id) is None:
            record.error = last_error(self.home, record.batch_id) or \
                "`records queue` stopped before the batch began"
        save_upload(self.home, record)

    def _start(self, record: UploadRecord) -> bool:
        """Start the batch; whether a process now runs it."""
        try:
            fd = os.open(self._claim(record.batch_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         0o600)
        except FileExistsError:
            return False  # another thread or process has it
        os.close(fd)
        options = BatchOptions(record.unit, record.series, record.classification,
                               record.languages)
        try:
            record.pid = queue_detached(self.home, upload_folder(self.home, record.batch_id),
                                        options, record.batch_id, self.logs, self._ended)
            record.pid_started = process_started(record.pid)
        except (OSError, ValueError) as exc:  # e.g. a value no command line can carry
            record.exit_code, record.error = int(ExitCode.failure), f"not started: {exc}"
        save_upload(self.home, record)
        return record.exit_code is None

    def _ended(self, batch_id: str, end: Ended) -> None:
        with self._lock:
            record = load_upload(self.home, batch_id)
            if record is not None:
                record.exit_code = end.exit_code
                record.error = None
                _read_outcome(record, end)
                save_upload(self.home, record)
        self.resume()

    def tick_every(self, seconds: float) -> threading.Event:
        """Resume every ``seconds`` until the returned event is set: a batch that outlived a
        restart ends unseen, and what waits behind it must still start."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(seconds):
                self.resume()

        threading.Thread(target=tick, daemon=True, name="batch-starter").start()
        return stop



def _read_outcome(record: UploadRecord, end: Ended) -> None:
    """What ``records queue --json`` said: a report when it ran here, a submission when it
    went to a server; only the error line when it stopped before either."""
    try:
        printed = json.loads(end.printed)
    except ValueError:
        printed = None
    if isinstance(printed, dict) and "outcome" in printed:  # submitted to a server
        record.outcome = str(printed["outcome"])
        if printed.get("batch_id") != record.batch_id:
            record.runs_as = str(printed.get("batch_id"))
    elif not isinstance(printed, dict):
        record.error = end.last_error or f"`records queue` ended with exit code {end.exit_code}"


def last_error(home: Path, batch_id: str) -> str:
    """The last line a received batch's ``records queue`` wrote to its errors."""
    return _last_line(home / "uploads" / "logs" / f"{batch_id}.err")


def process_started(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (Linux's /proc); None elsewhere.
    With the pid it names one process: a pid alone is reused after the process ends."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether that process runs still: the pid, and its start time when it was noted."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started is None or process_started(pid) in (None, started)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


# ----------------------------------------------------------------------------- on a server


@dataclass(frozen=True)
class Submitted:
    batch_id: str
    flow_run: str
    outcome: str  # queued, queued again, already queued, already done


@dataclass(frozen=True)
class RunState:
    """What the Prefect server says of a batch's flow run."""

    state: str  # Prefect's state type: SCHEDULED, RUNNING, COMPLETED, CRASHED, ...
    message: str
    flow_run: str


def submit(paths: list[Path], options: BatchOptions, batch_id: str | None = None) -> Submitted:
    """Queue a batch on the server and return at once. The idempotency key is the content
    hash of the scans: the same scans queued twice run once (under the first one's id, whatever
    ``batch_id`` asks for). A run of them that failed,
    crashed or was cancelled is scheduled again (Prefect's retry), keeping its batch id, so
    the pages it finished are not recognised again. The scans must be on storage the workers
    see."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.states import Scheduled

    from flows.deployments import DIGITISE

    digest = runtime.content_hash(paths)
    batch = batch_id or runtime.batch_id(paths, digest)
    run = run_deployment(DIGITISE, parameters=options.parameters(paths, batch), timeout=0,
                         idempotency_key=digest)
    existing = run.parameters.get("batch_id", batch)
    state = run.state.type.value if run.state else "SCHEDULED"
    if existing == batch:
        return Submitted(batch, str(run.id), "queued")
    if state in RERUNNABLE:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run.id, Scheduled(), force=True)
        return Submitted(existing, str(run.id), "queued again")
    return Submitted(existing, str(run.id),
                     "already done" if state == "COMPLETED" else "already queued")


def run_state(flow_run: str) -> RunState:
    """The Prefect state of a flow run."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run)  # type: ignore[arg-type]
    state = run.state
    return RunState(state.type.value if state else "SCHEDULED",
                    (state.message or "") if state else "", flow_run)


def follow(home: Path, submitted: Submitted, on_progress: Callable[[BatchReport, str], None],
           poll: float = 2.0) -> tuple[RunState, BatchReport | None]:
    """Wait for a submitted batch to end, calling ``on_progress`` with its ledger entry and
    run state as it goes; return the final run state and, if the run completed, its report."""
    ledger = Ledger(home)
    while True:
        run = run_state(submitted.flow_run)
        report = ledger.get(submitted.batch_id)
        if report:
            on_progress(report, run.state)
        if run.state in FINAL:
            report = ledger.get(submitted.batch_id)
            return run, report if run.state == "COMPLETED" else None
        time.sleep(poll)


def server_runs(limit: int = 200) -> dict[str, RunState]:
    """The digitise runs the server knows, by batch id (newest run of each). Queued ones have
    no ledger yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["digitise"])),
            sort=FlowRunSort.START_TIME_DESC, limit=limit)
    found: dict[str, RunState] = {}
    for run in runs:
        batch = str(run.parameters.get("batch_id", ""))
        if batch and batch not in found:
            found[batch] = RunState(run.state.type.value if run.state else "SCHEDULED",
                                    (run.state.message or "") if run.state else "", str(run.id))
    return found


# ----------------------------------------------------------------------------- status


@dataclass(frozen=True)
class Statuses:
    """Every batch (or one) as ``records status`` and the web app show them, and why the
    server's view is missing if it is."""

    batches: list[dict[str, Any]]
    warning: str = ""


def current_statuses(settings: Settings, batch_id: str | None = None,
                     ask_server: bool = True) -> Statuses:
    """The ledger judged with the server's runs. The server is asked first, the ledger after:
    a run the server calls finished wrote its ledger before it finished, so the ledger read
    next is final too (the other order races). A server that does not answer leaves the
    ledger alone, still worth showing (``ask_server`` off: the ledger alone, for a caller
    that polls)."""
    runs: dict[str, RunState] = {}
    warning = ""
    if ask_server and server_url(settings):
        try:
            runs = server_runs()
        except Exception as exc:
            warning = f"the Prefect server did not answer ({exc}); showing the ledger only"
    return Statuses(statuses(settings.home.resolve(), settings.node_name(), runs, batch_id),
                    warning)


def statuses(home: Path, here: str, runs: dict[str, RunState],
             batch_id: str | None = None) -> list[dict[str, Any]]:
    """Every batch (or the one asked for, by id or prefix) as ``records status`` shows it:
    the ledger's entries judged with their Prefect runs, then the runs still queued."""
    reports = [_with_run(r, runs.get(r.batch_id), here) for r in Ledger(home).find(batch_id)]
    known = {r["batch_id"] for r in reports}
    reports += [_queued(b, run) for b, run in runs.items()
                if b not in known and (not batch_id or b.startswith(batch_id))]
    return reports


def _with_run(report: BatchReport, run: RunState | None, here: str) -> dict[str, Any]:
    """A ledger entry judged with its Prefect run: a 'running' batch whose run crashed (its
    worker died: the heartbeat automation said so) is 'interrupted', with the reason."""
    shown = report.to_dict()
    shown["effective_state"] = report.effective_state(here)
    if run:
        shown["prefect_state"], shown["flow_run"] = run.state, run.flow_run
        if report.state == "running" and run.state in RERUNNABLE:
            shown["effective_state"] = "interrupted"
            shown["reason"] = (f"run {run.state.lower()}: {run.message}; "
                               "`records queue` with the same scans reruns it")
    return shown


def _queued(batch: str, run: RunState) -> dict[str, Any]:
    state = "queued" if run.state in WAITING else run.state.lower()
    return {"batch_id": batch, "state": state, "effective_state": state,
            "prefect_state": run.state, "flow_run": run.flow_run, "host": "",
            "started": "", "counts": {}, "pages_done": 0, "pages_total": 0,
            "eta_seconds": None, "documents": [], "reason": run.message or None}
