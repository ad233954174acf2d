"""The digitisation roadmap as data: periods, units, targets and milestones, from TOML.

A roadmap is what managers answer to ("in 2024, 80% of records signed; every unit signs with
the organisation's certificate"). It is read, checked as a whole (every problem reported at
once, in words a manager can act on) and expanded into one target per unit and period. The
figures it is measured against are never in this file: ``archive.roadmap`` computes them from
the catalog.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from config.errors import UsageError
from config.settings import DEFAULTS_FILE
from config.vocabulary import MILESTONE_STATES as MILESTONE_STATES  # re-exported

DEFAULT_FILE = DEFAULTS_FILE.with_name("roadmap.toml")  # the shipped example
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Kind = Literal["count", "share", "adoption", "milestone"]


@dataclass(frozen=True)
class Metric:
    kind: Kind
    label: str
    ceiling: bool = False  # a share that must stay *below* the threshold
    per: str = ""  # what a rate of this metric counts, per working day


METRICS: dict[str, Metric] = {
    "records": Metric("count", "records digitised", per="records"),
    "pages": Metric("count", "pages digitised", per="pages"),
    "signed_share": Metric("share", "share of records signed", per="signed records"),
    "org_signed_share": Metric("share", "share signed with the organisation's certificate",
                               per="records signed by the organisation"),
    "searchable_share": Metric("share", "share with searchable full text",
                               per="records with full text"),
    "verified_share": Metric("share", "share passing verification", per="verified records"),
    "review_share": Metric("share", "share still open in the review queue (at most)",
                           ceiling=True, per="records flagged for review"),
    "reviewed_share": Metric("share", "share a person reviewed or corrected",
                             per="records reviewed"),
    "signs_with_org": Metric("adoption", "signs with the organisation's certificate"),
    "signs_with_personal": Metric("adoption", "signs with personal certificates"),
}


class RoadmapError(UsageError, ValueError):
    """The roadmap file cannot be used; ``problems`` lists every reason, one a line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __reduce__(self) -> tuple[type[RoadmapError], tuple[str, list[str]]]:
        return type(self), (self.source, self.problems)


@dataclass(frozen=True)
class Period:
    id: str
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    parent: str = ""


@dataclass(frozen=True)
class Target:
    """One target of one unit in one period."""

    id: str
    title: str
    metric: str
    unit: str
    period: str
    threshold: float
    due: date

    @property
    def kind(self) -> Kind:
        return METRICS[self.metric].kind


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    unit: str
    period: str
    due: date


@dataclass(frozen=True)
class Calendar:
    """Working days: the weekdays worked, less public holidays."""

    weekdays: frozenset[int] = frozenset(range(5))
    holidays: frozenset[date] = frozenset()

    def is_working(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays


@dataclass(frozen=True)
class Roadmap:
    title: str
    organisation: str
    periods: tuple[Period, ...]
    units: tuple[Unit, ...]
    targets: tuple[Target, ...]
    milestones: tuple[Milestone, ...]
    calendar: Calendar = field(default_factory=Calendar)
    recent_weeks: int = 4  # the window of the "recent rate" forecasts use
    risk_days: int = 30  # an open milestone or adoption this close to its due date is at risk

    def period(self, period_id: str | None, as_of: date) -> Period:
        """The named period, else the one ``as_of`` falls in (the shortest such: a quarter
        only when asked for), else the latest that began before it, else the first."""
        if period_id:
            for period in self.periods:
                if period.id == period_id:
                    return period
            raise RoadmapError("roadmap", [f"no period {period_id!r}: the roadmap has "
                                           f"{', '.join(p.id for p in self.periods)}"])
        whole = [p for p in self.periods if "-Q" not in p.id] or list(self.periods)
        current = [p for p in whole if p.contains(as_of)]
        if current:
            return min(current, key=lambda p: p.end - p.start)
        begun = [p for p in whole if p.start <= as_of]
        return max(begun, key=lambda p: p.start) if begun else min(whole,
                                                                   key=lambda p: p.start)

    def unit(self, code: str) -> Unit:
        for unit in self.units:
            if unit.code == code:
                return unit
        raise RoadmapError("roadmap", [f"no unit {code!r} in the roadmap"])


def load_roadmap(path: Path | None = None) -> Roadmap:
    """Read and check a roadmap file (the shipped example by default)."""
    path = path or DEFAULT_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoadmapError(str(path), ["the file does not exist"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RoadmapError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_roadmap(data, str(path))


def parse_roadmap(data: dict[str, Any], source: str = "roadmap") -> Roadmap:
    """A roadmap from its TOML mapping; raises RoadmapError listing every problem."""
    problems: list[str] = []
    head = data.get("roadmap", {})
    calendar = _calendar(data.get("calendar", {}), problems)
    periods = _periods(data.get("periods", []), problems)
    units = _units(data.get("units", []), problems)
    known_periods = {p.id: p for p in periods}
    known_units = {u.code for u in units}
    targets = _targets(data.get("targets", []), known_periods, known_units, problems)
    milestones = _milestones(data.get("milestones", []), known_periods, known_units, problems)
    unknown = sorted(set(data) - {"roadmap", "calendar", "periods", "units", "targets",
                                  "milestones"})
    if unknown:
        problems.append(f"unknown section(s) {', '.join(unknown)}: the sections are roadmap, "
                        "calendar, periods, units, targets and milestones")
    if problems:
        raise RoadmapError(source, problems)
    return Roadmap(str(head.get("title", "Digitisation roadmap")),
                   str(head.get("organisation", "")), tuple(periods), tuple(units),
                   tuple(targets), tuple(milestones), calendar,
                   int(head.get("recent_weeks", 4)), int(head.get("risk_days", 30)))


def _day(value: Any, where: str, problems: list[str]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
        return None


def _calendar(data: dict[str, Any], problems: list[str]) -> Calendar:
    names = [str(d).lower()[:3] for d in data.get("working_days", WEEKDAYS[:5])]
    wrong = [n for n in names if n not in WEEKDAYS]
    if wrong:
        problems.append(f"calendar.working_days: {', '.join(wrong)} are not weekdays "
                        "(mon ... sun)")
    holidays = {_day(d, "calendar.holidays", problems) for d in data.get("holidays", [])}
    return Calendar(frozenset(WEEKDAYS.index(n) for n in names if n in WEEKDAYS),
                    frozenset(d for d in holidays if d))


def _periods(entries: list[dict[str, Any]], problems: list[str]) -> list[Period]:
    periods: list[Period] = []
    if not entries:
        problems.append("no [[periods]]: name at least one, e.g. id = \"2024\", "
                        "start = 2024-01-01, end = 2024-12-31")
    for number, entry in enumerate(entries, start=1):
        where = f"period {entry.get('id', number)!r}"
        start = _day(entry.get("start"), f"{where} start", problems)
        end = _day(entry.get("end"), f"{where} end", problems)
        if "id" not in entry:
            problems.append(f"period {number} has no id")
            continue
        if start and end and end < start:
            problems.append(f"{where} ends ({end}) before it starts ({start})")
            continue
        if start and end:
            periods.append(Period(str(entry["id"]), start, end))
            if entry.get("quarters"):
                periods += _quarters(str(entry["id"]), start, end)
    ids = [p.id for p in periods]
    problems += [f"period {i!r} is defined twice" for i in sorted({i for i in ids
                                                                  if ids.count(i) > 1})]
    return periods


def _quarters(period_id: str, start: date, end: date) -> list[Period]:
    """Calendar quarters of a period, named like 2024-Q2 (cut to the period)."""
    quarters = []
    for quarter in range(1, 5):
        q_start = date(start.year, 3 * quarter - 2, 1)
        q_end = date(start.year, 3 * quarter + 1, 1) if quarter < 4 else date(start.year + 1,
                                                                             1, 1)
        q_end = date.fromordinal(q_end.toordinal() - 1)
        if q_end >= start and q_start <= end:
            quarters.append(Period(f"{period_id}-Q{quarter}", max(q_start, start),
                                   min(q_end, end)))
    return quarters


def _units(entries: list[dict[str, Any]], problems: list[str]) -> list[Unit]:
    units = []
    for number, entry in enumerate(entries, start=1):
        if not entry.get("code"):
            problems.append(f"unit {number} has no code")
            continue
        units.append(Unit(str(entry["code"]), str(entry.get("name", entry["code"])),
                          str(entry.get("parent", ""))))
    codes = [u.code for u in units]
    problems += [f"unit {c!r} is defined twice" for c in sorted({c for c in codes
                                                                if codes.count(c) > 1})]
    problems += [f"unit {u.code!r} has an unknown parent {u.parent!r}" for u in units
                 if u.parent and u.parent not in codes and u.parent != _top(units)]
    if not units:
        problems.append("no [[units]]: list the units the roadmap measures")
    return units


def _top(units: list[Unit]) -> str:
    """The parent every unit may name without it being a unit (the organisation itself)."""
    parents = {u.parent for u in units} - {u.code for u in units} - {""}
    return next(iter(parents)) if len(parents) == 1 else ""


def _targets(entries: list[dict[str, Any]], periods: dict[str, Period], units: set[str],
             problems: list[str]) -> list[Target]:
    targets: list[Target] = []
    for number, entry in enumerate(entries, start=1):
        name = str(entry.get("id") or f"target {number}")
        where = f"target {name!r}"
        metric = entry.get("metric")
        if metric not in METRICS:
            problems.append(f"{where}: unknown metric {metric!r}; one of "
                            f"{', '.join(METRICS)}")
            continue
        if "due" not in entry:
            problems.append(f"{where} has no due date (due = 2024-12-31, or \"end\" for the "
                            "end of each period)")
            continue
        chosen = _target_units(entry.get("units", "all"), units, where, problems)
        for period_id in _target_periods(entry, periods, where, problems):
            period = periods[period_id]
            due = period.end if entry["due"] == "end" else _day(entry["due"], f"{where} due",
                                                                problems)
            if due is None:
                continue
            if not period.contains(due):
                problems.append(f"{where}: due {due} is outside period {period_id} "
                                f"({period.start} to {period.end})")
                continue
            for unit in chosen:
                threshold = _threshold(entry, period_id, unit, metric, where, problems)
                if threshold is not None:
                    targets.append(Target(name, str(entry.get("title", METRICS[metric].label)),
                                          metric, unit, period_id, threshold, due))
    return targets


def _target_units(value: Any, units: set[str], where: str, problems: list[str]) -> list[str]:
    if value == "all":
        return sorted(units)
    chosen = [str(v) for v in (value if isinstance(value, list) else [value])]
    unknown = [u for u in chosen if u not in units]
    if unknown:
        problems.append(f"{where}: unknown unit(s) {', '.join(unknown)}")
    return [u for u in chosen if u in units]


def _target_periods(entry: dict[str, Any], periods: dict[str, Period], where: str,
                    problems: list[str]) -> list[str]:
    wanted = entry.get("periods", [entry["period"]] if "period" in entry else [])
    if not wanted:
        problems.append(f"{where} names no period (period = \"2024\" or periods = [...])")
    unknown = [str(p) for p in wanted if str(p) not in periods]
    if unknown:
        problems.append(f"{where}: unknown period(s) {', '.join(unknown)}")
    return [str(p) for p in wanted if str(p) in periods]


def _threshold(entry: dict[str, Any], period_id: str, unit: str, metric: str, where: str,
               problems: list[str]) -> float | None:
    """``by_unit`` beats a per-period table beats the plain threshold."""
    kind = METRICS[metric].kind
    if kind == "adoption":
        return 1.0
    value = entry.get("by_unit", {}).get(unit, entry.get("threshold"))
    if isinstance(value, dict):
        value = value.get(period_id)
    if not isinstance(value, int | float) or isinstance(value, bool):
        problems.append(f"{where}: no threshold for {unit} in {period_id}")
        return None
    if kind == "share" and not 0 <= value <= 1:
        problems.append(f"{where}: a share is between 0 and 1 (0.8 for 80%), not {value}")
        return None
    if kind == "count" and value <= 0:
        problems.append(f"{where}: a planned count must be positive, not {value}")
        return None
    return float(value)


def _milestones(entries: list[dict[str, Any]], periods: dict[str, Period], units: set[str],
                problems: list[str]) -> list[Milestone]:
    milestones = []
    for number, entry in enumerate(entries, start=1):
        name = str(entry.get("id") or f"milestone {number}")
        where = f"milestone {name!r}"
        if "id" not in entry:
            problems.append(f"milestone {number} has no id (the name `records roadmap "
                            "milestone` sets its status by)")
            continue
        if "due" not in entry:
            problems.append(f"{where} has no due date")
            continue
        if entry.get("unit") not in units:
            problems.append(f"{where}: unknown unit {entry.get('unit')!r}")
            continue
        if str(entry.get("period")) not in periods:
            problems.append(f"{where}: unknown period {entry.get('period')!r}")
            continue
        due = _day(entry["due"], f"{where} due", problems)
        if due:
            milestones.append(Milestone(name, str(entry.get("title", name)), str(entry["unit"]),
                                        str(entry["period"]), due))
    ids = [m.id for m in milestones]
    problems += [f"milestone {i!r} is defined twice" for i in sorted({i for i in ids
                                                                     if ids.count(i) > 1})]
    return milestones
