"""Where each unit stands against the roadmap on a given day, computed from the archive.

``compute_standing(roadmap, facts, milestone_states, as_of=...)`` measures every target of a
period from the facts of ``archive.roadmap.progress``: its value, its status, the date it will
be met at the recent rate (the last ``recent_weeks`` weeks) and the rate that would meet it by
its due date.
Nothing here is typed in but milestone statuses. Figures count the records archived from the
period's start through the as-of date (UTC days).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from archive.roadmap.forecast import (
    Outlook,
    Status,
    count_outlook,
    open_outlook,
    rate,
    share_outlook,
)
from archive.roadmap.milestones import MilestoneStatus
from archive.roadmap.plan import METRICS, Milestone, Period, Roadmap, Target
from archive.roadmap.progress import Facts, weekly

STATUSES: tuple[Status, ...] = ("met", "on track", "at risk", "missed")
# The counter each share divides by the records digitised.
SHARE_PART = {"signed_share": "signed", "org_signed_share": "signed_org",
              "searchable_share": "searchable", "verified_share": "verified",
              "review_share": "review", "reviewed_share": "reviewed"}
ADOPTION_IDENTITY = {"signs_with_org": "organisation", "signs_with_personal": "personal"}


@dataclass
class TargetStanding:
    id: str
    title: str
    metric: str
    kind: str
    target: float
    value: float | str | None  # a count, a share, a date first seen, a milestone status
    status: Status
    due: date
    forecast: date | None
    required_rate: float | None  # per working day
    rate: float | None  # the recent rate, per working day
    per: str  # what the rates count

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(due=self.due.isoformat(),
                    forecast=self.forecast.isoformat() if self.forecast else None,
                    required_rate=_round(self.required_rate), rate=_round(self.rate),
                    value=_round(self.value) if isinstance(self.value, float) else self.value)
        return data


@dataclass
class UnitStanding:
    unit: str
    name: str
    parent: str
    figures: dict[str, int]
    targets: list[TargetStanding] = field(default_factory=list)
    throughput: list[dict[str, Any]] = field(default_factory=list)  # per ISO week

    @property
    def signed_share(self) -> float | None:
        return _share(self.figures["signed"], self.figures["records"])

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "parent": self.parent,
                "targets": [t.as_dict() for t in self.targets], **self.figures,
                "signed_share": _round(self.signed_share),
                "throughput": self.throughput}


@dataclass
class Standing:
    title: str
    organisation: str
    period: Period
    as_of: date
    units: list[UnitStanding]
    overall: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "organisation": self.organisation,
                "period": self.period.id, "period_start": self.period.start.isoformat(),
                "period_end": self.period.end.isoformat(), "as_of": self.as_of.isoformat(),
                "units": [u.as_dict() for u in self.units], "overall": self.overall}

    def markdown(self) -> str:
        """A short standing for the Prefect UI: overall, then a line per unit."""
        o = self.overall
        share = o.get("signed_share")
        lines = [f"# {self.title}: {self.period.id}, as of {self.as_of.isoformat()}", "",
                 f"{o.get('records', 0):,} records, {o.get('pages', 0):,} pages, "
                 f"{'-' if share is None else f'{share * 100:.1f}%'} signed; "
                 f"{o['units_signing_with_org']} of {o['units']} units sign with the "
                 "organisation's certificate.", "",
                 "| unit | records | pages | signed | " + " | ".join(STATUSES) + " |",
                 "|---|---:|---:|---:|" + "---:|" * len(STATUSES)]
        for u in self.units:
            counts = [sum(1 for t in u.targets if t.status == s) for s in STATUSES]
            signed = "-" if u.signed_share is None else f"{u.signed_share * 100:.0f}%"
            lines.append(f"| {u.unit} | {u.figures['records']:,} | {u.figures['pages']:,} | "
                         f"{signed} | " + " | ".join(map(str, counts)) + " |")
        return "\n".join(lines)

    def rows(self) -> list[dict[str, Any]]:
        """One row per unit and target: the CSV a spreadsheet opens."""
        return [{"period": self.period.id, "as_of": self.as_of.isoformat(), "unit": u.unit,
                 "unit_name": u.name, "records": u.figures["records"],
                 "pages": u.figures["pages"], "signed": u.figures["signed"],
                 "signed_share": _round(u.signed_share),
                 **{k: v for k, v in t.as_dict().items() if k not in ("kind", "per")}}
                for u in self.units for t in u.targets]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def figures(facts: Facts, unit: str, start: date, through: date) -> dict[str, int]:
    """A unit's counts over [start, through]."""
    counts = {name: facts.total(unit, name, start, through)
              for name in ("records", "pages", "signed", "signed_org", "signed_personal",
                           "searchable", "review", "quarantined")}
    counts["verified"] = facts.verified_count(unit, start, through)
    return counts


def compute_standing(roadmap: Roadmap, facts: Facts,
                     milestone_states: dict[str, MilestoneStatus], *, as_of: date,
                     period_id: str | None = None, unit: str | None = None) -> Standing:
    """Every unit's figures and targets in the period, as they stood at the end of
    ``as_of``."""
    period = roadmap.period(period_id, as_of)
    window = as_of - timedelta(weeks=roadmap.recent_weeks)
    chosen = [roadmap.unit(unit)] if unit else list(roadmap.units)
    periods = {p.id: p for p in roadmap.periods}
    shown = _shown_periods(roadmap, period, as_of)
    units = []
    for entry in chosen:
        def over(p: Period, code: str = entry.code) -> dict[str, int]:
            return figures(facts, code, p.start, min(as_of, p.end))

        recent = figures(facts, entry.code, window + timedelta(days=1), as_of)
        targets = [_target(roadmap, facts, t, over(periods[t.period]), recent, window, as_of)
                   for t in roadmap.targets if t.unit == entry.code and t.period in shown]
        targets += [_milestone(roadmap, m, milestone_states.get(m.id), as_of)
                    for m in roadmap.milestones
                    if m.unit == entry.code and m.period in shown]
        units.append(UnitStanding(entry.code, entry.name, entry.parent, over(period), targets,
                                  weekly(facts, [entry.code], period.start,
                                         min(as_of, period.end))))
    return Standing(roadmap.title, roadmap.organisation, period, as_of, units,
                    _overall(units, facts, as_of))


def _shown_periods(roadmap: Roadmap, period: Period, as_of: date) -> set[str]:
    """The period, and the quarter of it the as-of date falls in (its current plan): a
    year's view shows this quarter's targets too, ``--period 2024-Q2`` that quarter's."""
    day = min(max(as_of, period.start), period.end)
    return {period.id} | {p.id for p in roadmap.periods
                          if p.id.startswith(f"{period.id}-Q") and p.contains(day)}


def _target(roadmap: Roadmap, facts: Facts, target: Target, current: dict[str, int],
            recent: dict[str, int], window: date, as_of: date) -> TargetStanding:
    metric = METRICS[target.metric]
    calendar = roadmap.calendar
    value: float | str | None
    per_day: float | None = None
    if metric.kind == "count":
        value = float(current[target.metric])
        per_day = rate(calendar, recent[target.metric], window, as_of)
        outlook = count_outlook(calendar, value, target.threshold, per_day, as_of, target.due)
    elif metric.kind == "share":
        part = SHARE_PART[target.metric]
        value = _share(current[part], current["records"])
        per_day = rate(calendar, recent[part], window, as_of)
        outlook = share_outlook(calendar, current[part], current["records"], per_day,
                                rate(calendar, recent["records"], window, as_of),
                                target.threshold, as_of, target.due, ceiling=metric.ceiling)
    else:
        first = facts.first_signed.get((target.unit, ADOPTION_IDENTITY[target.metric]))
        seen = first if first and first <= as_of else None
        value = seen.isoformat() if seen else None
        outlook = open_outlook(seen, False, as_of, target.due, roadmap.risk_days)
    return _standing(target.id, target.title, target.metric, metric.kind, target.threshold,
                     value, outlook, target.due, per_day, metric.per)


def _milestone(roadmap: Roadmap, milestone: Milestone, state: MilestoneStatus | None,
               as_of: date) -> TargetStanding:
    status = state.status if state else "planned"
    if status == "dropped":
        outlook = Outlook("missed", None, None)
    else:
        outlook = open_outlook(state.day if state and status == "done" else None,
                               status == "blocked", as_of, milestone.due, roadmap.risk_days)
    return _standing(milestone.id, milestone.title, "milestone", "milestone", 1.0, status,
                     outlook, milestone.due, None, "")


def _standing(target_id: str, title: str, metric: str, kind: str, threshold: float,
              value: float | str | None, outlook: Outlook, due: date, per_day: float | None,
              per: str) -> TargetStanding:
    return TargetStanding(target_id, title, metric, kind, threshold, value, outlook.status, due,
                          outlook.forecast, outlook.required_rate, per_day, per)


def _overall(units: list[UnitStanding], facts: Facts, as_of: date) -> dict[str, Any]:
    totals = {name: sum(u.figures[name] for u in units) for name in units[0].figures} \
        if units else {}
    statuses = {s: sum(1 for u in units for t in u.targets if t.status == s) for s in STATUSES}
    adopted = {identity: sum(1 for u in units
                             if (first := facts.first_signed.get((u.unit, identity)))
                             and first <= as_of)
               for identity in ("organisation", "personal")}
    records = totals.get("records", 0)
    return {"units": len(units), **totals,
            **{f"{metric}": _round(_share(totals.get(part, 0), records))
               for metric, part in SHARE_PART.items()},
            "units_signing_with_org": adopted["organisation"],
            "units_signing_with_personal": adopted["personal"], "targets": statuses}


def burnup(roadmap: Roadmap, facts: Facts, standing_: Standing, target_id: str
           ) -> dict[str, Any]:
    """One target over the period, summed over the shown units: its value week by week
    up to the as-of date, against its line (a straight climb to a planned count by the due
    date; the threshold itself for a share)."""
    period, as_of = standing_.period, standing_.as_of
    units = [u.unit for u in standing_.units]
    targets = [t for t in roadmap.targets if t.id == target_id and t.period == period.id
               and t.unit in units]
    if not targets:
        raise ValueError(f"no target {target_id!r} in period {period.id}")
    metric = METRICS[targets[0].metric]
    due = max(t.due for t in targets)
    end = min(as_of, period.end)
    days = [period.start + timedelta(weeks=n)
            for n in range(max(0, (end - period.start).days) // 7 + 1)
            if period.start + timedelta(weeks=n) < end] + ([end] if end >= period.start else [])
    points = [(day.isoformat(), _value_on(facts, targets[0].metric, units, period.start, day))
              for day in days]
    threshold = (sum(t.threshold for t in targets) if metric.kind == "count"
                 else targets[0].threshold)
    line = ([(period.start.isoformat(), 0.0), (due.isoformat(), threshold)]
            if metric.kind == "count"
            else [(period.start.isoformat(), threshold), (period.end.isoformat(), threshold)])
    return {"target": target_id, "title": targets[0].title, "metric": targets[0].metric,
            "kind": metric.kind, "ceiling": metric.ceiling, "threshold": threshold,
            "due": due.isoformat(), "start": period.start.isoformat(),
            "end": period.end.isoformat(), "points": points, "line": line}


def _value_on(facts: Facts, metric: str, units: list[str], start: date,
              day: date) -> float | None:
    def summed(counter: str) -> int:
        if counter == "verified":
            return sum(facts.verified_count(u, start, day) for u in units)
        return sum(facts.total(u, counter, start, day) for u in units)

    if METRICS[metric].kind == "count":
        return float(summed(metric))
    return _share(summed(SHARE_PART[metric]), summed("records"))


def charted_targets(roadmap: Roadmap, period: Period) -> list[str]:
    """Targets of the period that a burn-up chart can show (counts and shares), in file
    order."""
    seen: dict[str, None] = {}
    for target in roadmap.targets:
        if target.period == period.id and METRICS[target.metric].kind in ("count", "share"):
            seen.setdefault(target.id)
    return list(seen)
