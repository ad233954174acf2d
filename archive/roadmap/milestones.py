"""Manual milestones' statuses, set by managers, kept with who set them and when.

The only roadmap figures a person types in. Each change is appended to a hash-chained log
(``archive.store.ChainedLog``) under ``RECORDS_HOME/roadmap/``, so the history cannot be quietly
rewritten and the status on any past date can be read back for ``--as-of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from archive.roadmap.plan import MILESTONE_STATES, Roadmap
from archive.store import ChainedLog
from config.errors import UsageError


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


class MilestoneError(UsageError, ValueError):
    """A milestone status that cannot be set: an unknown milestone or status, or no author."""


def _entry(line: dict[str, str]) -> MilestoneStatus:
    return MilestoneStatus(line["milestone"], line["status"], line["at"], line["by"],
                           line.get("note", ""))


@dataclass(frozen=True)
class MilestoneLog:
    """The milestones log of a RECORDS_HOME."""

    home: Path

    @property
    def path(self) -> Path:
        return self.home / "roadmap" / "milestones.jsonl"

    def set_status(self, roadmap: Roadmap, milestone: str, status: str, by: str,
                   note: str = "", at: datetime | None = None) -> MilestoneStatus:
        """Record a milestone's new status; :class:`MilestoneError` for an unknown milestone
        or status."""
        known = {m.id for m in roadmap.milestones}
        if milestone not in known:
            raise MilestoneError(f"no milestone {milestone!r} in the roadmap; there are: "
                                 f"{', '.join(sorted(known)) or 'none'}")
        if status not in MILESTONE_STATES:
            raise MilestoneError(f"status {status!r} is not one of: "
                                 f"{', '.join(MILESTONE_STATES)}")
        if not by.strip():
            raise MilestoneError("say who sets the status")
        entry = MilestoneStatus(milestone, status,
                                (at or datetime.now(UTC)).isoformat(timespec="seconds"), by,
                                note)
        ChainedLog(self.path).append(entry.__dict__)
        return entry

    def statuses(self, as_of: date | None = None) -> dict[str, MilestoneStatus]:
        """Each milestone's latest status set on or before ``as_of`` (all, when None)."""
        latest: dict[str, MilestoneStatus] = {}
        for line in ChainedLog(self.path).read():
            entry = _entry(line)
            if as_of is None or entry.day <= as_of:
                latest[entry.milestone] = entry
        return latest

    def history(self) -> list[MilestoneStatus]:
        return [_entry(line) for line in ChainedLog(self.path).read()]

    def check(self) -> list[str]:
        """Where the log has been tampered with (empty when intact)."""
        return ChainedLog(self.path).check()[0]
