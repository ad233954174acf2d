"""Running a batch: here (Prefect embedded) or on a Prefect server, and following it.

What ``records queue`` and ``records status`` do, without the terminal: the command line draws
progress bars from the callbacks, and any other front end can do the same. Nothing home-made
where Prefect does the job: a batch on a server is a run of the ``digitise`` deployment,
queued with ``run_deployment`` and the batch's content hash as idempotency key; a dead
worker's run is found by Prefect's heartbeat automation. The batch ledger tells pages done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.intake import BatchReport, Ledger
from archive.store import now
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


def server_url(settings: Settings, quiet: bool = True) -> str:
    """The server batches go to, or "" for the embedded default (Prefect's own setting, from
    the environment or the Prefect profile). Prefect reads its settings once, when first
    imported, so records' defaults for it are put in place first."""
    runtime.prepare(settings, quiet=quiet)
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or ""


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


def submit(paths: list[Path], options: BatchOptions) -> Submitted:
    """Queue a batch on the server and return at once. The idempotency key is the content
    hash of the scans: the same scans queued twice run once. A run of them that failed,
    crashed or was cancelled is scheduled again (Prefect's retry), keeping its batch id, so
    the pages it finished are not recognised again. The scans must be on storage the workers
    see."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.states import Scheduled

    from flows.deployments import DIGITISE

    digest = runtime.content_hash(paths)
    batch = runtime.batch_id(paths, digest)
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
