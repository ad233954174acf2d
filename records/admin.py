"""Running the web app and managing who may use it: ``records serve | users | audit``."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from archive import audit
from archive.access import ROLES, AccessError, add_user, issue_token, list_users, revoke_token
from archive.catalog import LEVELS, Catalog
from archive.chain import check
from config.settings import load_settings
from ocr.errors import ExitCode

console = Console(stderr=True)
out = Console()
users_app = typer.Typer(no_args_is_help=True, help="Accounts of the web app and its API.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


def cli_user() -> str:
    """How the audit log names someone at the machine's command line."""
    return f"cli:{getpass.getuser()}"


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Run the archivists' web app (search, records, PDFs, verification, JSON API)."""
    import uvicorn

    from records.web.app import create_app

    console.print(f"records web app on http://{host}:{port}/ (API schema at /openapi.json)")
    uvicorn.run(create_app(), host=host, port=port, log_level="warning")


def _catalog() -> Catalog:
    return Catalog.open(load_settings().catalog_url())


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}")],
    clearance: Annotated[str, typer.Option(help=f"One of {', '.join(LEVELS)}")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Add a local account (the password is asked for, never taken on the command line)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("RECORDS_NEW_PASSWORD"):
        password = os.environ["RECORDS_NEW_PASSWORD"]
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        user = add_user(_catalog(), name, role, clearance, password)
    except AccessError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(ExitCode.usage) from None
    audit.record(load_settings().home.resolve(), cli_user(), "user-added", target=user.name,
                 role=user.role, clearance=user.clearance_name)
    console.print(f"added {user.name} ({user.role}, cleared {user.clearance_name})")


@users_app.command("list")
def users_list() -> None:
    """The active accounts."""
    table = Table("name", "role", "clearance")
    for user in list_users(_catalog()):
        table.add_row(user.name, user.role, user.clearance_name)
    out.print(table)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument()]) -> None:
    """Issue an API token for a user; it is printed once and stored only as a hash."""
    try:
        token_id, secret = issue_token(_catalog(), name)
    except AccessError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(ExitCode.usage) from None
    audit.record(load_settings().home.resolve(), cli_user(), "token-issued", target=name,
                 token_id=token_id)
    console.print(f"token {token_id} for {name} (keep it secret; revoke with "
                  f"`records users revoke {token_id}`):")
    out.print(secret)


@users_app.command("revoke")
def users_revoke(token_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an API token by its id."""
    if not revoke_token(_catalog(), token_id):
        console.print(f"[red]no active token {token_id}[/red]")
        raise typer.Exit(ExitCode.usage)
    audit.record(load_settings().home.resolve(), cli_user(), "token-revoked", token_id=token_id)
    console.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(
    head: Annotated[str | None, typer.Option(help="Head hash kept from an earlier check")] = None,
) -> None:
    """Check that no audit entry was deleted, inserted or edited; print the head to keep."""
    home = load_settings().home.resolve()
    problems = audit.verify(home, head)
    count = len(audit.entries(home))
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(ExitCode.failure)
    console.print(f"audit log intact: {count} entries")
    out.print(f"head {check(audit.log_path(home))[1]}")


@audit_app.command("show")
def audit_show(tail: Annotated[int, typer.Option(help="How many of the last entries")] = 20,
               ) -> None:
    """The last entries of the audit log."""
    table = Table("time", "user", "action", "record", "outcome")
    for entry in audit.entries(load_settings().home.resolve())[-tail:]:
        table.add_row(entry["time"], entry["user"], entry["action"], entry.get("record_id") or "",
                      entry["outcome"])
    out.print(table)
