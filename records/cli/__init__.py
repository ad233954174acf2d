"""The ``records`` command: what records officers, archivists and managers type.

One module per group of commands: ``batches`` (ocr, queue, status, demo), ``records``
(search, show, history, diff, export, reindex), ``review`` (edit, review, declassify),
``copies`` (verify, renew, keys), ``users`` (users, audit), ``roadmap``, ``authority``,
``server`` (serve, server, worker, deploy) and ``watch``; ``console`` holds what they share.
Exit codes are stable (scripts depend on them) and come from the error tree
(``config.errors.ExitCode``):
0 all done, 1 the run failed, 2 usage, 3 some documents were refused (quarantined).
"""

from __future__ import annotations

import os
import sys
import warnings

# A library's warning (cryptography deprecating DSA as pyHanko is imported, for one) is for
# developers, not for the person at the terminal, whose errors are one line each. It is
# silenced before the commands' modules are imported (and, by main(), in the Python processes
# a command starts), unless RECORDS_DEBUG is set or Python was given -W or PYTHONWARNINGS.
if _QUIET_WARNINGS := not sys.warnoptions and not os.environ.get("RECORDS_DEBUG"):
    warnings.simplefilter("ignore")

import typer  # after the warnings filter above, as are the imports below

from config.errors import ExitCode, RecordsError
from records.cli import (
    authority,
    batches,
    copies,
    records,
    review,
    roadmap,
    server,
    users,
    watch,
)
from records.cli.console import err, shown

# Tracebacks are for developers (RECORDS_DEBUG=1): main() turns any error into one line.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Paper records in, signed and searchable PDF/A archive out.")

app.command()(batches.ocr)
app.command()(batches.queue)
app.command()(batches.status)
app.command()(batches.demo)
app.command("search")(records.search_command)
app.command()(records.show)
app.command()(records.history)
app.command()(records.diff)
app.command()(review.edit)
app.command()(review.review)
app.add_typer(review.declassify_app, name="declassify")
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
app.add_typer(authority.authority_app, name="authority")
app.add_typer(server.server_app, name="server")
app.add_typer(server.worker_app, name="worker")
app.command()(server.deploy)
app.command()(watch.watch)


def main() -> None:
    """Run the command; an error of the project's tree that no command handled still ends
    with its own exit code and one line that says why, never a traceback. Anything else is a
    fault of records or of the machine: one line and exit 1, the traceback only when
    RECORDS_DEBUG is set."""
    os.umask(0o077)  # records' files are its user's alone (see archive.store.keep_private)
    if _QUIET_WARNINGS:
        os.environ.setdefault("PYTHONWARNINGS", "ignore")  # Prefect's flow runs, as this one
    try:
        app()
    except RecordsError as exc:
        err.print(f"[red]{shown(exc.reason)}[/red]")
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("RECORDS_DEBUG"):
            raise
        said, code = _unexpected(exc)
        err.print(f"[red]records stopped: {shown(said)}[/red]", highlight=False)
        sys.exit(code)


def _unexpected(exc: Exception) -> tuple[str, ExitCode]:
    """One line and an exit code for an error no command expected."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):  # the driver's words: no statement, no password
        said = str(exc.orig).strip().splitlines() if exc.orig else []
        cause = said[0] if said else type(exc.orig or exc).__name__
        return (f"the catalog database cannot be used ({cause}); check catalog.url and that "
                "the database is running", ExitCode.usage)
    from flows.retries import explain

    said = " ".join(explain(exc).split())
    return f"{said} (RECORDS_DEBUG=1 shows where)", ExitCode.failure
