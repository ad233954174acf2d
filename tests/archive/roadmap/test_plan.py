"""The roadmap file: the shipped example loads, and every mistake is named in words."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from archive.roadmap import RoadmapError, load_roadmap, parse_roadmap

BASE: dict[str, Any] = {
    "roadmap": {"title": "Plan"},
    "periods": [{"id": "2024", "start": date(2024, 1, 1), "end": date(2024, 12, 31),
                 "quarters": True}],
    "units": [{"code": "VP", "name": "Office", "parent": "TC"},
              {"code": "HN", "name": "Hanoi", "parent": "VP"}],
    "targets": [{"id": "signed", "metric": "signed_share", "period": "2024", "units": "all",
                 "threshold": 0.8, "due": "end"},
                {"id": "pages", "metric": "pages", "period": "2024-Q2", "units": ["VP"],
                 "threshold": 1000, "by_unit": {"VP": 1500}, "due": date(2024, 6, 30)}],
    "milestones": [{"id": "net", "title": "Network", "unit": "VP", "period": "2024",
                    "due": date(2024, 6, 30)}],
}


def problems(change: dict[str, Any]) -> list[str]:
    data = copy.deepcopy(BASE)
    for section, value in change.items():
        data[section] = value
    with pytest.raises(RoadmapError) as caught:
        parse_roadmap(data)
    return caught.value.problems


def test_the_shipped_example_has_24_units_and_yearly_targets() -> None:
    roadmap = load_roadmap()
    assert len(roadmap.units) == 24
    assert {p.id for p in roadmap.periods} >= {"2024", "2024-Q1", "2027-Q4"}
    signed = [t for t in roadmap.targets if t.id == "signed" and t.period == "2024"]
    assert len(signed) == 24 and {t.threshold for t in signed} == {0.8}
    assert {t.unit for t in roadmap.targets if t.id == "personal-certificate"} == {
        "VP", "TCCB", "KHTC", "TTR"}
    lt_pages = next(t for t in roadmap.targets if t.id == "pages" and t.unit == "LT")
    assert lt_pages.threshold == 80000 and lt_pages.due == date(lt_pages.due.year, 12, 31)
    assert roadmap.calendar.is_working(date(2024, 2, 8)) is False  # Tết


def test_targets_expand_per_unit_with_overrides_and_quarters() -> None:
    roadmap = parse_roadmap(copy.deepcopy(BASE))
    assert [(t.unit, t.threshold) for t in roadmap.targets if t.id == "signed"] == [
        ("HN", 0.8), ("VP", 0.8)]
    [pages] = [t for t in roadmap.targets if t.id == "pages"]
    assert (pages.unit, pages.threshold, pages.period) == ("VP", 1500.0, "2024-Q2")
    q2 = next(p for p in roadmap.periods if p.id == "2024-Q2")
    assert (q2.start, q2.end) == (date(2024, 4, 1), date(2024, 6, 30))
    assert roadmap.period(None, date(2024, 5, 5)).id == "2024"  # the year, not its quarter
    assert roadmap.period(None, date(2026, 1, 1)).id == "2024"  # the latest begun


@pytest.mark.parametrize(("change", "message"), [
    ({"targets": [{"id": "x", "metric": "pages", "period": "2024", "units": ["ZZ"],
                   "threshold": 5, "due": "end"}]}, "unknown unit(s) ZZ"),
    ({"targets": [{"id": "x", "metric": "pages", "period": "2024", "threshold": 5}]},
     "target 'x' has no due date"),
    ({"targets": [{"id": "x", "metric": "speed", "period": "2024", "due": "end"}]},
     "unknown metric 'speed'"),
    ({"targets": [{"id": "x", "metric": "signed_share", "period": "2024", "threshold": 80,
                   "due": "end"}]}, "a share is between 0 and 1"),
    ({"targets": [{"id": "x", "metric": "pages", "period": "2025", "threshold": 5,
                   "due": "end"}]}, "unknown period(s) 2025"),
    ({"targets": [{"id": "x", "metric": "pages", "period": "2024", "threshold": 5,
                   "due": date(2025, 3, 1)}]}, "due 2025-03-01 is outside period 2024"),
    ({"targets": [{"id": "x", "metric": "pages", "period": "2024", "due": "end"}]},
     "no threshold for HN in 2024"),
    ({"units": [{"code": "VP", "parent": "TC"}, {"code": "HN", "parent": "XX"}]},
     "unit 'HN' has an unknown parent 'XX'"),
    ({"periods": [{"id": "2024", "start": "2024-13-01", "end": "2024-12-31"}]},
     "'2024-13-01' is not a date"),
    ({"milestones": [{"id": "m", "unit": "VP", "period": "2024"}]},
     "milestone 'm' has no due date"),
    ({"calendar": {"working_days": ["mon", "funday"]}}, "fun are not weekdays"),
])
def test_every_mistake_gets_a_clear_message(change: dict[str, Any], message: str) -> None:
    assert any(message in p for p in problems(change)), problems(change)


def test_all_problems_are_reported_at_once() -> None:
    found = problems({"targets": [
        {"id": "a", "metric": "pages", "period": "2024", "units": ["ZZ"], "threshold": 1,
         "due": "end"},
        {"id": "b", "metric": "pages", "period": "2024", "threshold": 1}]})
    assert len(found) == 2
