"""Who may use the archive, and what they did: ``records users | audit``."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from archive.access import (
    ROLES,
    AccessError,
    AuditLog,
    add_user,
    issue_token,
    list_users,
    revoke_token,
)
from archive.index import Catalog
from archive.store import LEVELS
from config.errors import ExitCode
from config.settings import load_settings
from records.cli.console import cli_user, err, fail, out, stop

users_app = typer.Typer(no_args_is_help=True, help="Accounts of the web app and its API.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


def _catalog() -> Catalog:
    return Catalog.open(load_settings().catalog_url())


def _audit() -> AuditLog:
    return AuditLog(load_settings().home.resolve())


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
        fail(exc)
    _audit().record(cli_user(), "user-added", target=user.name, role=user.role,
                    clearance=user.clearance_name)
    err.print(f"added {user.name} ({user.role}, cleared {user.clearance_name})")


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
        fail(exc)
    _audit().record(cli_user(), "token-issued", target=name, token_id=token_id)
    err.print(f"token {token_id} for {name} (keep it secret; revoke with "
                  f"`records users revoke {token_id}`):")
    out.print(secret)


@users_app.command("revoke")
def users_revoke(token_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an API token by its id."""
    if not revoke_token(_catalog(), token_id):
        stop(f"no active token {token_id}")
    _audit().record(cli_user(), "token-revoked", token_id=token_id)
    err.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(
    head: Annotated[str | None, typer.Option(help="Head hash kept from an earlier check")] = None,
) -> None:
    """Check that no audit entry was deleted, inserted or edited; print the head to keep."""
    audit = _audit()
    problems = audit.verify(head)
    count = len(audit.entries())
    for problem in problems:
        err.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(ExitCode.failure)
    err.print(f"audit log intact: {count} entries")
    out.print(f"head {audit.head()}")


@audit_app.command("show")
def audit_show(tail: Annotated[int, typer.Option(help="How many of the last entries")] = 20,
               ) -> None:
    """The last entries of the audit log."""
    table = Table("time", "user", "action", "record", "outcome")
    for entry in _audit().entries()[-tail:]:
        table.add_row(entry["time"], entry["user"], entry["action"], entry.get("record_id") or "",
                      entry["outcome"])
    out.print(table)
