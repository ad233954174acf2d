"""Long-running services: ``records serve`` (the web app), ``records server start | worker
start | deploy`` (queueing batches on a Prefect server).

Nothing home-made where Prefect does the job: the server is ``prefect server start``, a
worker is ``prefect worker start`` on a process work pool, and ``records deploy`` registers the
deployments as code (``flows.deployments``). records adds its defaults (where Prefect's files
go, the pool, heartbeats). How a batch is queued on the server is ``records.batches``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from records.cli.console import err, stop

if TYPE_CHECKING:
    from config.settings import Settings

server_app = typer.Typer(no_args_is_help=True, help="The Prefect server batches queue on.")
worker_app = typer.Typer(no_args_is_help=True, help="Workers that run queued batches.")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Processes serving requests (default: web.workers, or one per core)"
    )] = None,
) -> None:
    """Run the archivists' web app (search, records, PDFs, verification, JSON API)."""
    import uvicorn

    from config.settings import load_settings
    from records.web.app import create_app

    processes = workers or load_settings().web.processes()
    err.print(f"records web app on http://{host}:{port}/ with {processes} "
              f"process{'es' if processes > 1 else ''} (the API is described at /docs)")
    # uvicorn would believe X-Forwarded-For from loopback: anyone on this machine could then
    # name the audit log's client and escape the per-address sign-in limit. The app believes
    # only the proxies ``web.trusted_proxies`` names.
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning",
                               "proxy_headers": False}
    if processes == 1:
        uvicorn.run(create_app(), **options)
    else:  # each process makes its own app from the same settings
        uvicorn.run("records.web.app:create_app", factory=True, workers=processes, **options)


def _require_server(settings: Settings, quiet: bool = True) -> str:
    from records.batches import server_url
    url = server_url(settings, quiet)
    if not url:
        stop("no Prefect server: start one with `records server start` and set "
             "PREFECT_API_URL=http://HOST:4200/api")
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
    from config.settings import load_settings
    settings = load_settings()
    home = settings.home.resolve()
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(home / "prefect-server"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    database = env.get("PREFECT_API_DATABASE_CONNECTION_URL") or env.get(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL")
    err.print("Prefect server; database: " + (
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
    from config.settings import load_settings
    settings = load_settings()
    env = worker_environment(settings)
    os.environ["PREFECT_HOME"] = env["PREFECT_HOME"]  # before Prefect reads its settings
    _require_server(settings, quiet=False)  # a worker's log is its operator's window
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
    from config.settings import load_settings
    settings = load_settings()
    _require_server(settings)
    from flows.deployments import deploy as register

    for name in register(settings):
        err.print(f"deployed {name}")
