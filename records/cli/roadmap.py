"""Managers' commands: ``records roadmap [show] | milestone | check``.

Where each unit stands against the roadmap, computed from the archive: a terminal view with
progress bars and forecasts, or ``--json``, ``--csv`` and ``--html FILE`` (a self-contained
report with charts). Exit codes: 0 done, 2 usage (a bad date, unit, period or roadmap file).
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from config.vocabulary import MILESTONE_STATES
from records.cli.console import (
    Listing,
    cli_user,
    err,
    fail,
    literal,
    out,
    print_json,
    shown,
    stop,
)

if TYPE_CHECKING:
    from archive.roadmap import Roadmap, RoadmapError, Standing, TargetStanding, UnitStanding
    from config.settings import Settings

roadmap_app = typer.Typer(help="Targets per unit, progress and forecasts, from the archive.")


def open_roadmap(settings: Settings) -> Roadmap:
    """The configured roadmap, or a usage error listing what is wrong with it."""
    from archive.roadmap import RoadmapError, load_roadmap
    try:
        return load_roadmap(settings.roadmap.file)
    except RoadmapError as exc:
        _problems(f"the roadmap {exc.source} cannot be used:", exc)


def _problems(heading: str, exc: RoadmapError) -> NoReturn:
    err.print(f"[red]{shown(heading)}[/red]")
    for problem in exc.problems:
        err.print(f"  - {shown(problem)}")
    raise typer.Exit(exc.exit_code)


@roadmap_app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option(help="A period id: 2024, 2024-Q2")] = None,
    unit: Annotated[str | None, typer.Option(help="One unit's code")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today)")
                     ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a report to FILE")] = None,
) -> None:
    """Where each unit stands against the roadmap: figures, targets, status, forecasts."""
    from archive.index import Catalog
    from archive.roadmap import RoadmapError, measure_roadmap
    from config.settings import load_settings
    if ctx.invoked_subcommand:
        return
    if sum((as_json, as_csv, html is not None)) > 1:
        stop("choose one of --json, --csv, --html")
    settings = load_settings()
    roadmap = open_roadmap(settings)
    day = _as_of(as_of)
    try:
        view = measure_roadmap(Catalog.open(settings.catalog_url()), settings.home.resolve(),
                               roadmap, as_of=day, period=period, unit=unit)
    except RoadmapError as exc:
        stop("; ".join(exc.problems))
    result = view.standing
    if as_json:
        print_json(result.as_dict())
    elif as_csv:
        rows = result.rows()
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["unit"])
        writer.writeheader()
        writer.writerows(rows)
    elif html is not None:
        view.write_report(html)
        err.print(f"report written to {shown(html)}")
    else:
        out.print(_overall_table(result))
        for entry in result.units:
            out.print(_unit_table(entry))


def _as_of(value: str | None) -> date:
    from archive.roadmap import today
    if not value:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        stop(f"--as-of wants a date as YYYY-MM-DD, not {value!r}")


def _status(status: str) -> Text:
    from archive.roadmap import COLOURS
    return Text(f" {status} ", style=f"bold white on {COLOURS[status]}")


def _overall_table(result: Standing) -> Table:
    from archive.roadmap import COLOURS, STATUSES
    o = result.overall
    table = Listing(title=literal(f"{result.title}: period {result.period.id}, as of "
                                  f"{result.as_of}"), show_header=True)
    for column in ("records", "pages", "signed", "share", "units org / pers.", "quarantined",
                   *STATUSES):
        table.add_column(column, justify="right")
    share = o.get("signed_share")
    table.add_row(f"{o.get('records', 0):,}", f"{o.get('pages', 0):,}", f"{o.get('signed', 0):,}",
                  f"{share * 100:.1f}%" if share is not None else "-",
                  f"{o['units_signing_with_org']} / {o['units_signing_with_personal']} of "
                  f"{o['units']}", str(o.get("quarantined", 0)),
                  *[Text(str(o["targets"][s]), style=COLOURS[s]) for s in STATUSES])
    return table


def _unit_table(entry: UnitStanding) -> Table:
    f = entry.figures
    table = Listing(title=literal(f"{entry.unit} · {entry.name}"), title_justify="left",
                  caption=f"{f['records']:,} records, {f['pages']:,} pages, {f['signed']} signed"
                          f" ({f['signed_org']} organisation, {f['signed_personal']} personal), "
                          f"{f['verified']} verified, {f['review']} need review, "
                          f"{f['quarantined']} quarantined", caption_justify="left")
    table.add_column("target", max_width=34)
    table.add_column("progress")
    table.add_column("value / target", justify="right")
    for column in ("status", "due", "forecast"):
        table.add_column(column, no_wrap=True)
    table.add_column("per working day: recent / needed", justify="right")
    for target in entry.targets:
        table.add_row(target.title, _bar(target), _value(target), _status(target.status),
                      target.due.isoformat(),
                      target.forecast.isoformat() if target.forecast else "-", _rates(target))
    return table


def _bar(target: TargetStanding) -> ProgressBar | Text:
    from archive.roadmap import COLOURS
    if target.kind in ("count", "share") and isinstance(target.value, float):
        done = target.value / target.target if target.target else 1.0
        if target.kind == "share" and target.metric == "review_share":
            done = 1.0 if target.value <= target.target else target.target / target.value
        return ProgressBar(total=1.0, completed=min(1.0, done), width=12,
                           complete_style=COLOURS[target.status])
    return Text("")


def _value(target: TargetStanding) -> str:
    if target.kind == "share":
        shown = f"{target.value * 100:.1f}%" if isinstance(target.value, float) else "-"
        bound = "<= " if target.metric == "review_share" else ""
        return f"{shown} / {bound}{target.target * 100:.0f}%"
    if target.kind == "count":
        return f"{target.value:,.0f} / {target.target:,.0f}"
    return str(target.value or "not yet")


def _rates(target: TargetStanding) -> str:
    if target.rate is None:
        return ""
    needed = f"{target.required_rate:,.1f}" if target.required_rate is not None else "-"
    return f"{target.rate:,.1f} / {needed}"


@roadmap_app.command("milestone")
def milestone(
    milestone_id: Annotated[str, typer.Argument(help="The milestone's id in the roadmap")],
    status: Annotated[str, typer.Argument(help=" | ".join(MILESTONE_STATES))],
    note: Annotated[str, typer.Option(help="Why, or what was done")] = "",
    by: Annotated[str | None, typer.Option(help="Who sets it (default: your login)")] = None,
) -> None:
    """Set a manual milestone's status; who and when are recorded in a hash-chained log."""
    from archive.roadmap import MilestoneError, MilestoneLog
    from config.settings import load_settings
    settings = load_settings()
    roadmap = open_roadmap(settings)
    try:
        entry = MilestoneLog(settings.home.resolve()).set_status(
            roadmap, milestone_id, status, by or cli_user(), note)
    except MilestoneError as exc:
        fail(exc)
    err.print(f"{shown(entry.milestone)}: {entry.status} (set by {shown(entry.by)} at "
              f"{entry.at})")


@roadmap_app.command("check")
def check(
    file: Annotated[Path | None, typer.Argument(help="A roadmap file (default: configured)")
                    ] = None,
) -> None:
    """Check a roadmap file and say what is wrong with it, all at once."""
    from archive.roadmap import RoadmapError, load_roadmap
    from config.settings import load_settings
    path = file or load_settings().roadmap.file
    try:
        roadmap = load_roadmap(path)
    except RoadmapError as exc:
        _problems(f"{exc.source}: {len(exc.problems)} problem(s)", exc)
    out.print(f"{shown(roadmap.title)}: {len(roadmap.units)} units, "
              f"{len([p for p in roadmap.periods if '-Q' not in p.id])} periods, "
              f"{len(roadmap.targets)} targets (per unit and period), "
              f"{len(roadmap.milestones)} milestones: OK")
