"""The roadmap measured on a day: one service for the command line, the web app and the flows.

Each of them asks the same question (where does every unit stand against the roadmap, as of a
day, for a period?) and must get the same answer, so the plan is read, the facts loaded from
the catalog and the milestones' statuses taken from their log here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from archive.index import Catalog
from archive.roadmap.milestones import MilestoneLog
from archive.roadmap.plan import Roadmap, load_roadmap
from archive.roadmap.progress import Facts, load_facts
from archive.roadmap.report import write_report
from archive.roadmap.standing import Standing, compute_standing


def today() -> date:
    """The day the roadmap is measured on unless one is asked for (UTC, like every stamp)."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class RoadmapView:
    """A roadmap measured on one day: the plan, the facts it was measured by, and the result."""

    roadmap: Roadmap
    facts: Facts
    standing: Standing

    def write_report(self, path: Path) -> Path:
        """The self-contained HTML report of this view."""
        return write_report(path, self.roadmap, self.facts, self.standing)


def measure_roadmap(catalog: Catalog, home: Path, roadmap: Roadmap | Path | None, *,
                    as_of: date | None = None, period: str | None = None,
                    unit: str | None = None) -> RoadmapView:
    """Where each unit stands as of ``as_of`` (default today) in ``period`` (default the one
    holding that day). ``roadmap`` is a parsed roadmap, or its file (None: the shipped
    example). Raises ``RoadmapError`` for a file that cannot be used, an unknown period or
    unit."""
    plan = roadmap if isinstance(roadmap, Roadmap) else load_roadmap(roadmap)
    day = as_of or today()
    facts = load_facts(catalog)
    states = MilestoneLog(home).statuses(day)
    return RoadmapView(plan, facts, compute_standing(plan, facts, states, as_of=day,
                                                     period_id=period, unit=unit))
