"""Queueing on a Prefect server: ``records server start | worker start | deploy``, and how
``records queue`` submits a batch when ``PREFECT_API_URL`` is set.

Nothing home-made where Prefect does the job: the server is ``prefect server start``, a
worker is ``prefect worker start`` on a process work pool, the queue is ``run_deployment``
with the batch's content hash as idempotency key, and a dead worker's run is found by
Prefect's heartbeat automation. records adds its defaults (where Prefect's files go, the
pool, heartbeats) and the batch ledger that tells pages done.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from archive import batches
from config.settings import Settings, load_settings
from ocr.errors import ExitCode
from records import runtime

console = Console(stderr=True)
server_app = typer.Typer(no_args_is_help=True, help="The Prefect server batches queue on.")
worker_app = typer.Typer(no_args_is_help=True, help="Workers that run queued batches.")
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
RERUNNABLE = ("FAILED", "CRASHED", "CANCELLED")


def server_url(quiet: bool = True) -> str:
    """The server batches go to, or "" for the embedded default (Prefect's own setting, from
    the environment or the Prefect profile). Prefect reads its settings once, when first
    imported, so records' defaults for it are put in place first."""
    runtime.prepare(load_settings(), quiet=quiet)
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or ""


def _require_server(quiet: bool = True) -> str:
    url = server_url(quiet)
    if not url:
        console.print("[red]no Prefect server: start one with `records server start` and set "
                      "PREFECT_API_URL=http://HOST:4200/api[/red]")
        raise typer.Exit(ExitCode.usage)
    return url


def _exec(args: list[str], env: dict[str, str]) -> None:
    """Become the Prefect process, so a service manager's stop signal reaches it directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(args[0], args, env)


@server_app.command("start")
def server_start(
    host: Annotated[str | None, typer.Option(help="Address (default: Prefect's setting)")
                    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PREFECT_SERVER_API_PORT "
                                                  "or 4200)")] = None,
) -> None:
    """Run a long-lived Prefect server with its UI (foreground; run it under systemd)."""
    settings = load_settings()
    home = settings.home.resolve()
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(home / "prefect-server"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    database = env.get("PREFECT_API_DATABASE_CONNECTION_URL") or env.get(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL")
    console.print("Prefect server; database: " + (
        _redacted(database) if database else f"SQLite under {env['PREFECT_HOME']}"))
    args = [sys.executable, "-m", "prefect", "server", "start"]
    args += ["--host", host] if host else []
    args += ["--port", str(port)] if port else []
    _exec(args, env)


def _redacted(url: str) -> str:
    """A database URL without its password (logs and terminals never show secrets)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL we can parse: say nothing of it
        return "(configured)"


@worker_app.command("start")
def worker_start(
    name: Annotated[str | None, typer.Option(help="Worker name (default: the node name)")
                    ] = None,
    limit: Annotated[int | None, typer.Option(help="Batches at once (default: settings)")
                     ] = None,
) -> None:
    """Run a worker that takes queued batches from the work pool (foreground)."""
    settings = load_settings()
    env = worker_environment(settings)
    os.environ["PREFECT_HOME"] = env["PREFECT_HOME"]  # before Prefect reads its settings
    _require_server(quiet=False)  # a worker's log is its operator's window
    args = [sys.executable, "-m", "prefect", "worker", "start", "--pool",
            settings.server.pool, "--type", "process", "--limit",
            str(limit or settings.server.batches_per_worker), "--name",
            name or f"records-{settings.node_name()}", "--install-policy", "never"]
    _exec(args, env)


def worker_environment(settings: Settings) -> dict[str, str]:
    """What the worker's flow runs inherit: heartbeats for the zombie automation, and this
    node's own Prefect folder (the archive and catalog are shared, Prefect's files not)."""
    env = dict(os.environ)
    env["PREFECT_HOME"] = os.environ.get("PREFECT_HOME") or str(
        settings.home.resolve() / "prefect" / settings.node_name())
    env.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(settings.server.heartbeat_seconds))
    return env


def deploy() -> None:
    """Register the work pool, the deployments (with their schedules), the signing-token
    limit and the zombie-run automation on the server. Safe to run again."""
    _require_server()
    from flows.deployments import deploy as register

    for name in register(load_settings()):
        console.print(f"deployed {name}")


# ----------------------------------------------------------------------------- submitting


@dataclass(frozen=True)
class Submitted:
    batch_id: str
    flow_run: str
    outcome: str  # queued, queued again, already queued, already done


def submit(paths: list[Path], parameters: dict[str, Any]) -> Submitted:
    """Queue a batch on the server and return at once. The idempotency key is the content
    hash of the scans: the same scans queued twice run once. A run of them that failed,
    crashed or was cancelled is scheduled again (Prefect's retry), keeping its batch id, so
    the pages it finished are not recognised again."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.states import Scheduled

    from flows.deployments import DIGITISE

    digest = runtime.content_hash(paths)
    batch = runtime.batch_id(paths, digest)
    run = run_deployment(DIGITISE, parameters={**parameters, "batch_id": batch}, timeout=0,
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


def run_state(flow_run: str) -> tuple[str, str]:
    """The Prefect state of a flow run (type, message)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run)  # type: ignore[arg-type]
    state = run.state
    return (state.type.value if state else "SCHEDULED", (state.message or "") if state else "")


def follow(home: Path, submitted: Submitted, show_progress: bool,
           poll: float = 2.0) -> dict[str, Any] | None:
    """Wait for a submitted batch to end, with a progress bar from its ledger (pages done /
    total); return its report, or None when the run ended without one."""
    from records.cli import _progress

    with _progress() if show_progress else _Quiet() as bar:
        task = bar.add_task(submitted.batch_id, total=None) if show_progress else None
        while True:
            state, message = run_state(submitted.flow_run)
            found = batches.find(home, submitted.batch_id)
            if found and task is not None:
                bar.update(task, total=found[0].pages_total or None,
                           completed=found[0].pages_done, description=f"{submitted.batch_id}"
                           f" ({state.lower()})")
            if state in FINAL:
                if state != "COMPLETED":
                    console.print(f"[red]batch {submitted.batch_id}: run {state.lower()}"
                                  f"[/red] {message}")
                report = batches.find(home, submitted.batch_id)
                return report[0].to_dict() if report and state == "COMPLETED" else None
            time.sleep(poll)


class _Quiet:
    """Stands in for the progress bar when output is JSON."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def server_runs(limit: int = 200) -> dict[str, dict[str, str]]:
    """The digitise runs the server knows, by batch id (newest run of each): its state, the
    state's message, and the run id. Queued ones have no ledger yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["digitise"])),
            sort=FlowRunSort.START_TIME_DESC, limit=limit)
    found: dict[str, dict[str, str]] = {}
    for run in runs:
        batch = str(run.parameters.get("batch_id", ""))
        if batch and batch not in found:
            found[batch] = {"state": run.state.type.value if run.state else "SCHEDULED",
                            "message": (run.state.message or "") if run.state else "",
                            "flow_run": str(run.id)}
    return found
