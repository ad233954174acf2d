"""The ``records`` command: what records officers, archivists and managers type.

One module per group of commands: ``batches`` (ocr, queue, status, demo), ``records``
(search, show, export, reindex), ``copies`` (verify, renew, keys), ``users`` (users, audit),
``roadmap``, ``server`` (serve, server, worker, deploy) and ``watch``; ``console`` holds what
they share. Exit codes are stable (scripts depend on them) and come from the error tree
(``config.errors.ExitCode``): 0 all done, 1 the run failed, 2 usage, 3 some documents were
refused (quarantined).
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from config.errors import RecordsError
from records.cli import batches, copies, records, roadmap, server, users, watch
from records.cli.console import err

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Paper records in, signed and searchable PDF/A archive out.")

app.command()(batches.ocr)
app.command()(batches.queue)
app.command()(batches.status)
app.command()(batches.demo)
app.command("search")(records.search_command)
app.command()(records.show)
app.command()(records.export)
app.command()(records.reindex)
app.command()(server.serve)
app.add_typer(users.users_app, name="users")
app.add_typer(users.audit_app, name="audit")
app.command()(copies.verify)
app.command()(copies.renew)
app.command()(copies.migrate)
app.add_typer(copies.keys_app, name="keys")
app.add_typer(copies.log_app, name="log")
app.add_typer(roadmap.roadmap_app, name="roadmap")
app.add_typer(server.server_app, name="server")
app.add_typer(server.worker_app, name="worker")
app.command()(server.deploy)
app.command()(watch.watch)


def main() -> None:
    """Run the command; an error of the project's tree that no command handled still ends
    with its own exit code and one line that says why, never a traceback."""
    try:
        app()
    except RecordsError as exc:
        err.print(f"[red]{escape(exc.reason)}[/red]")
        sys.exit(exc.exit_code)
