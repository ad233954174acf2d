"""Managers' commands for the issuers' authority list: ``records authority list | add | check``.

Issuers are matched against this list (the roadmap's units, the shipped or configured file,
and managers' additions in RECORDS_HOME/authorities.toml). A letterhead that names no body of
the list leaves the record's issuer empty and the record in the review queue, saying what
the letterhead read: adding the body here lets the next batches file such letters.
Exit codes: 0 done, 2 usage (a bad code, parent or authority file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from records.cli.console import cli_user, err, fail, literal, out, print_json, shown

if TYPE_CHECKING:
    from archive.intake import AuthorityList
    from config.settings import Settings

authority_app = typer.Typer(help="The issuing bodies letterheads are matched against.")


def _configured(settings: Settings) -> AuthorityList:
    from archive.intake import AuthorityError
    from archive.roadmap import RoadmapError, configured_authorities
    try:
        return configured_authorities(settings.roadmap.file, settings.authorities.file,
                                      settings.home.resolve())
    except (AuthorityError, RoadmapError) as exc:
        fail(exc, "the authority list cannot be used")


@authority_app.command("list")
def list_bodies(
    as_json: Annotated[bool, typer.Option("--json", help="As JSON, for scripts")] = False,
) -> None:
    """Every body in the list: its code, name, parent, variants and other codes."""
    from config.settings import load_settings
    authorities = _configured(load_settings())
    if as_json:
        print_json([{"code": a.code, "name": a.name, "parent": a.parent,
                     "heading": authorities.heading(a), "variants": list(a.variants),
                     "abbreviations": list(a.abbreviations)} for a in authorities.entries])
        return
    table = Table(title=f"{len(authorities)} issuing bodies", title_justify="left")
    for column in ("code", "name", "parent", "variants", "other codes"):
        table.add_column(column)
    for a in authorities.entries:
        table.add_row(literal(a.code), literal(a.name), literal(a.parent or ""),
                      literal("; ".join(a.variants)), literal(", ".join(a.abbreviations)))
    out.print(table)


@authority_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="The code its document numbers use, e.g. TCCT")],
    name: Annotated[str, typer.Argument(help="Its name as letterheads print it")],
    parent: Annotated[str | None, typer.Option(help="The code of the body above it")] = None,
    variant: Annotated[list[str] | None, typer.Option(
        help="Another name it is printed or known by (repeatable)")] = None,
    abbreviation: Annotated[list[str] | None, typer.Option(
        help="Another code its numbers use (repeatable)")] = None,
) -> None:
    """Add a body to the list, or replace the one with this code; recorded in the audit log."""
    from archive.access import AuditLog
    from archive.intake import Authority, AuthorityError, check_list, save_authority
    from archive.roadmap import added_file
    from config.errors import UsageError
    from config.settings import load_settings
    settings = load_settings()
    known = _configured(settings)
    if parent and known.get(parent) is None:
        fail(UsageError(f"parent {parent!r} is not in the authority list: add it first "
                        "(records authority list shows the codes)"))
    home = settings.home.resolve()
    entry = Authority(code.strip(), name.strip(), parent, tuple(variant or ()),
                      tuple(abbreviation or ()))
    clashes = check_list([*(a for a in known.entries if a.code != entry.code), entry])
    if clashes:  # checked before anything is written: a bad list would stop every batch
        fail(AuthorityError("; ".join(clashes)), "not added")
    try:
        save_authority(added_file(home), entry)
    except AuthorityError as exc:
        fail(exc, "not added")
    AuditLog(home).record(cli_user(), "authority-add", code=entry.code, name=entry.name,
                          parent=entry.parent)
    err.print(f"{shown(entry.code)}: {shown(known.heading(entry) if parent else entry.name)} "
              f"added to {shown(added_file(home))}")


@authority_app.command("check")
def check() -> None:
    """Load the list as configured and say whether it can be used."""
    from config.settings import load_settings
    authorities = _configured(load_settings())
    out.print(f"{len(authorities)} issuing bodies: OK")
