"""Manual milestones' statuses, set by managers, kept with who set them and when.

The only roadmap figures a person types in. Each change is appended to a hash-chained log
(``archive.chain``) under ``RECORDS_HOME/roadmap/``, so the history cannot be quietly
rewritten and the status on any past date can be read back for ``--as-of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from archive import chain
from archive.plan import MILESTONE_STATES, Roadmap


@dataclass(frozen=True)
class MilestoneStatus:
    milestone: str
    status: str
    at: str  # ISO time, UTC
    by: str
    note: str = ""

    @property
    def day(self) -> date:
        return date.fromisoformat(self.at[:10])


def log_path(home: Path) -> Path:
    return home / "roadmap" / "milestones.jsonl"


def set_status(home: Path, roadmap: Roadmap, milestone: str, status: str, by: str,
               note: str = "", at: datetime | None = None) -> MilestoneStatus:
    """Record a milestone's new status; raises ValueError for an unknown milestone or
    status."""
    known = {m.id for m in roadmap.milestones}
    if milestone not in known:
        raise ValueError(f"no milestone {milestone!r} in the roadmap; there are: "
                         f"{', '.join(sorted(known)) or 'none'}")
    if status not in MILESTONE_STATES:
        raise ValueError(f"status {status!r} is not one of: {', '.join(MILESTONE_STATES)}")
    if not by.strip():
        raise ValueError("say who sets the status")
    entry = MilestoneStatus(milestone, status,
                            (at or datetime.now(UTC)).isoformat(timespec="seconds"), by, note)
    chain.append(log_path(home), entry.__dict__)
    return entry


def statuses(home: Path, as_of: date | None = None) -> dict[str, MilestoneStatus]:
    """Each milestone's latest status set on or before ``as_of`` (all, when None)."""
    latest: dict[str, MilestoneStatus] = {}
    for line in chain.read(log_path(home)):
        entry = MilestoneStatus(line["milestone"], line["status"], line["at"], line["by"],
                                line.get("note", ""))
        if as_of is None or entry.day <= as_of:
            latest[entry.milestone] = entry
    return latest


def history(home: Path) -> list[MilestoneStatus]:
    return [MilestoneStatus(e["milestone"], e["status"], e["at"], e["by"], e.get("note", ""))
            for e in chain.read(log_path(home))]


def check(home: Path) -> list[str]:
    """Where the log has been tampered with (empty when intact)."""
    return chain.check(log_path(home))[0]
