"""Who may use the archive, and what they did: ``records users | audit``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from config.errors import ExitCode
from config.vocabulary import LEVELS, ROLES
from records.cli.console import Listing, cli_user, err, fail, out, shown, stop

if TYPE_CHECKING:
    from archive.access import AuditLog
    from archive.index import Catalog
    from archive.signing import Check
    from config.settings import Settings

users_app = typer.Typer(no_args_is_help=True, help="Accounts of the web app and its API.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


def _catalog() -> Catalog:
    from archive.index import Catalog
    from config.settings import load_settings
    return Catalog.open(load_settings().catalog_url())


def _audit() -> AuditLog:
    from archive.access import AuditLog
    from config.settings import load_settings
    return AuditLog(load_settings().home.resolve())


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}")],
    clearance: Annotated[str, typer.Option(help=f"One of {', '.join(LEVELS)}")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Add a local account (the password is asked for, never taken on the command line)."""
    from archive.access import AccessError, add_user
    try:
        user = add_user(_catalog(), name, role, clearance, _new_password(password_stdin))
    except AccessError as exc:
        fail(exc)
    _audit().record(cli_user(), "user-added", target=user.name, role=user.role,
                    clearance=user.clearance_name)
    err.print(f"added {shown(user.name)} ({user.role}, cleared {user.clearance_name})")


@users_app.command("list")
def users_list(
    show_all: Annotated[bool, typer.Option("--all", help="Disabled accounts too")] = False,
) -> None:
    """The active accounts (with --all, the disabled ones too)."""
    from archive.access import list_users, units_of
    catalog = _catalog()
    table = Listing("name", "role", "clearance", "units", "state")
    for user, active in list_users(catalog, disabled=show_all):
        table.add_row(user.name, user.role, user.clearance_name,
                      ", ".join(units_of(catalog, user.name)),
                      "active" if active else "disabled")
    out.print(table)


def _new_password(password_stdin: bool) -> str:
    """A password from stdin, RECORDS_NEW_PASSWORD or a prompt; never from the command line,
    where every user of the machine could read it in the process list."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("RECORDS_NEW_PASSWORD"):
        return os.environ["RECORDS_NEW_PASSWORD"]
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _activate(name: str, active: bool, said: str) -> None:
    from archive.access import AccessError, set_active
    try:
        set_active(_catalog(), name, active=active)
    except AccessError as exc:
        fail(exc)
    _audit().record(cli_user(), "user-enabled" if active else "user-disabled", target=name)
    err.print(f"{shown(name)} {said}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: its sign-ins end and its tokens are revoked at once; its name
    stays taken."""
    _activate(name, False, "disabled: signed out everywhere, its tokens revoked")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled account again (with a new token, if it needs one)."""
    _activate(name, True, "enabled (its old tokens stay revoked)")


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument()],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Set an account's password; every sign-in made with the old one ends."""
    from archive.access import AccessError, set_password
    try:
        set_password(_catalog(), name, _new_password(password_stdin))
    except AccessError as exc:
        fail(exc)
    _audit().record(cli_user(), "password-set", target=name)
    err.print(f"password of {shown(name)} set; its sign-ins ended")


@users_app.command("set")
def users_set(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str | None, typer.Option(help=f"One of {', '.join(ROLES)}")] = None,
    clearance: Annotated[str | None, typer.Option(help=f"One of {', '.join(LEVELS)}")] = None,
    units: Annotated[str | None, typer.Option(
        help="The units whose batches the account queues and follows, e.g. VP,HN ('' for none)"
    )] = None,
) -> None:
    """Change an account's role, clearance or units; its next request is judged by them."""
    from archive.access import AccessError, set_access, set_units
    catalog = _catalog()
    try:
        if units is not None:
            assigned = set_units(catalog, name, units.split(","))
            _audit().record(cli_user(), "user-units", target=name, units=list(assigned))
            err.print(f"{shown(name)} works for {shown(', '.join(assigned) or 'no unit')}")
        if role is None and clearance is None and units is not None:
            return
        user = set_access(catalog, name, role, clearance)
    except AccessError as exc:
        fail(exc)
    _audit().record(cli_user(), "user-changed", target=name, role=user.role,
                    clearance=user.clearance_name)
    err.print(f"{shown(name)} is now {user.role}, cleared {user.clearance_name}")


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument()]) -> None:
    """Issue an API token for a user; it is printed once and stored only as a hash."""
    from archive.access import AccessError, issue_token
    try:
        token_id, secret = issue_token(_catalog(), name)
    except AccessError as exc:
        fail(exc)
    _audit().record(cli_user(), "token-issued", target=name, token_id=token_id)
    err.print(f"token {token_id} for {shown(name)} (keep it secret; revoke with "
                  f"`records users revoke {token_id}`):")
    out.print(secret)


@users_app.command("revoke")
def users_revoke(token_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an API token by its id."""
    from archive.access import revoke_token
    if not revoke_token(_catalog(), token_id):
        stop(f"no active token {token_id}")
    _audit().record(cli_user(), "token-revoked", token_id=token_id)
    err.print(f"token {shown(token_id)} revoked")


@audit_app.command("verify")
def audit_verify(
    head: Annotated[str | None, typer.Option(help="Head hash kept from an earlier check")] = None,
) -> None:
    """Check that no audit entry was deleted, inserted or edited, here and against the
    archive's latest signed head (which records the log's length and last hash); print the
    head to keep."""
    from archive.access import AuditLog
    from config.settings import load_settings
    if head is not None and not head.strip():  # `--head "$KEPT"` with KEPT unset: fail closed
        stop("--head is empty: give the head hash an earlier `records audit verify` printed")
    settings = load_settings()
    audit = AuditLog(settings.home.resolve())
    problems = audit.verify(head.strip() if head else None)
    signed = _signed_prefix(settings)
    if signed is not None and not signed.ok:
        problems.append(signed.detail)
    count = len(audit.entries())
    for problem in problems:
        err.print(f"[red]{shown(problem)}[/red]")
    if problems:
        raise typer.Exit(ExitCode.failure)
    err.print(f"audit log intact: {count} entries"
              + (f"; {shown(signed.detail)}" if signed is not None else
                 "; no signed head of the archive's log to check it against"))
    out.print(f"head {audit.head()}")


def _signed_prefix(settings: Settings) -> Check | None:
    """The archive log's check of the audit log, or None when there is no signed head (or no
    trust roots) to check it against."""
    from archive.signing import SigningError, read_log, seal_certificates, trust_roots
    home = settings.home.resolve()
    try:
        roots = trust_roots(settings.signing, home)
        seals = seal_certificates(settings.signing, home)
    except SigningError:
        return None
    state = read_log(home, roots, seals, all_signatures=False)
    if not state.heads:
        return None
    heads = state.checks["log-heads"]
    return heads if not heads.ok else state.checks["log-audit"]


@audit_app.command("show")
def audit_show(tail: Annotated[int, typer.Option(help="How many of the last entries")] = 20,
               ) -> None:
    """The last entries of the audit log (a damaged line is left out; `audit verify` names
    it)."""
    table = Listing("time", "user", "action", "record", "outcome")
    for entry in _audit().entries()[-tail:]:
        table.add_row(*(str(entry.get(key) or "") for key in
                        ("time", "user", "action", "record_id", "outcome")))
    out.print(table)
