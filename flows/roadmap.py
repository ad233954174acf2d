"""Roadmap flows: the standing after each batch, and the weekly report.

After a batch, ``record_progress`` notes what became of each document and publishes the
roadmap's standing as a markdown artifact keyed ``roadmap``, so the Prefect UI tells managers
the same story as ``records roadmap`` (both ask ``archive.roadmap.measure_roadmap``).
``roadmap_report`` (weekly) writes the HTML report under the reports folder and publishes the
same artifact.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from archive.index import Catalog
from archive.intake import BatchReport
from archive.roadmap import RoadmapError, RoadmapView, measure_roadmap, record_batch
from config.settings import Settings, load_settings
from flows.retries import DATABASE_RETRIES, DATABASE_RETRY_DELAYS, database_unavailable

WEEKLY = "0 7 * * 1"  # cron of the scheduled report: Mondays 07:00 (deployments: issue 6)


def _measure(settings: Settings, catalog: Catalog) -> RoadmapView:
    return measure_roadmap(catalog, settings.home.resolve(), settings.roadmap.file)


@task(cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unavailable)
def record_progress(report: BatchReport, catalog: Catalog) -> str | None:
    """Note the batch's outcomes and publish the standing; a broken roadmap file is said, not
    fatal: the batch itself is archived either way."""
    record_batch(catalog, report)
    try:
        view = _measure(load_settings(), catalog)
    except RoadmapError as exc:
        print(f"roadmap not updated: {exc}")
        return None
    create_markdown_artifact(view.standing.markdown(), key="roadmap",
                             description="Roadmap standing after the latest batch")
    return view.standing.period.id


@flow(name="roadmap_report", log_prints=True)
def roadmap_report(folder: str | None = None) -> str:
    """Write this week's roadmap report (HTML) and publish the standing; return its path."""
    settings = load_settings()
    view = _measure(settings, Catalog.open(settings.catalog_url()))
    reports = Path(folder) if folder else settings.roadmap.reports or \
        settings.home.resolve() / "reports"
    year, week, _ = view.standing.as_of.isocalendar()
    path = view.write_report(Path(reports) / f"roadmap-{year}-W{week:02d}.html")
    create_markdown_artifact(view.standing.markdown() + f"\n\nReport: `{path}`", key="roadmap",
                             description="Weekly roadmap report")
    print(f"roadmap report written to {path}")
    return str(path)
