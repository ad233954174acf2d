"""Roadmap flows: the standing after each batch, and the weekly report.

After a batch, ``record_progress`` notes what became of each document and publishes the
roadmap's standing as a markdown artifact keyed ``roadmap``, so the Prefect UI tells managers
the same story as ``records roadmap``. ``roadmap_report`` (weekly) writes the HTML report under
the reports folder and publishes the same artifact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from archive import milestones
from archive.catalog import Catalog
from archive.plan import RoadmapError, load_roadmap
from archive.progress import load_facts, record_batch
from archive.report import write_report
from archive.roadmap import Standing, standing
from config.settings import Settings, load_settings
from flows.retries import DATABASE_RETRIES, DATABASE_RETRY_DELAYS, database_unavailable

WEEKLY = "0 7 * * 1"  # cron of the scheduled report: Mondays 07:00 (deployments: issue 6)


def _standing(settings: Settings, catalog: Catalog) -> tuple[Standing, Any, Any]:
    roadmap = load_roadmap(settings.roadmap.file)
    today = datetime.now(UTC).date()
    facts = load_facts(catalog)
    states = milestones.statuses(settings.home.resolve(), today)
    return standing(roadmap, facts, states, as_of=today), roadmap, facts


@task(cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unavailable)
def record_progress(report: dict[str, Any], catalog: Catalog) -> str | None:
    """Note the batch's outcomes and publish the standing; a broken roadmap file is said, not
    fatal: the batch itself is archived either way."""
    record_batch(catalog, report)
    settings = load_settings()
    try:
        result, _, _ = _standing(settings, catalog)
    except RoadmapError as exc:
        print(f"roadmap not updated: {exc}")
        return None
    create_markdown_artifact(result.markdown(), key="roadmap",
                             description="Roadmap standing after the latest batch")
    return result.period.id


@flow(name="roadmap_report", log_prints=True)
def roadmap_report(folder: str | None = None) -> str:
    """Write this week's roadmap report (HTML) and publish the standing; return its path."""
    settings = load_settings()
    catalog = Catalog.open(settings.catalog_url())
    result, roadmap, facts = _standing(settings, catalog)
    reports = Path(folder) if folder else settings.roadmap.reports or \
        settings.home.resolve() / "reports"
    year, week, _ = result.as_of.isocalendar()
    path = write_report(Path(reports) / f"roadmap-{year}-W{week:02d}.html", roadmap, facts,
                        result)
    create_markdown_artifact(result.markdown() + f"\n\nReport: `{path}`", key="roadmap",
                             description="Weekly roadmap report")
    print(f"roadmap report written to {path}")
    return str(path)
