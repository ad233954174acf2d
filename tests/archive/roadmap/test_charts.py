"""The roadmap's burn-up charts draw what was measured, even when it is a single point: a
roadmap whose records were all archived on one day (a first batch, a demo) showed empty share
charts, because a line through one point draws nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest

from archive.index import Catalog
from archive.roadmap import (
    MilestoneLog,
    Standing,
    burnup,
    burnup_svg,
    charted_targets,
    compute_standing,
    load_facts,
    parse_roadmap,
)
from archive.store import level_of

SVG = "{http://www.w3.org/2000/svg}"
PLAN = parse_roadmap({
    "roadmap": {"title": "One day", "recent_weeks": 4},
    "periods": [{"id": "2024", "start": date(2024, 1, 1), "end": date(2024, 12, 31)}],
    "units": [{"code": "VP", "name": "Office", "parent": "TC"}],
    "targets": [
        {"id": "signed", "metric": "signed_share", "period": "2024", "threshold": 0.8,
         "due": "end"},
        {"id": "review", "metric": "review_share", "period": "2024", "threshold": 0.1,
         "due": "end"},
        {"id": "pages", "metric": "pages", "period": "2024", "threshold": 100, "due": "end"}],
})
ONE_DAY = date(2024, 6, 5)  # a Wednesday: the last weekly point before it (3 June) has nothing


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """Three records, all archived on ONE_DAY, all signed."""
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.create()
    for n in range(1, 4):
        record_id = f"VP-2024-{n:06d}"
        catalog.add({"record_id": record_id, "title": record_id, "unit": "VP",
                     "classification": "public", "level": level_of("public"), "signed": True,
                     "signer_identity": "organisation", "needs_review": False, "pages": 2,
                     "archived_at": f"{ONE_DAY}T09:00:00+00:00"}, [f"trang {n}"], [])
    yield catalog
    catalog.engine.dispose()


def standing(catalog: Catalog, home: Path, as_of: date) -> Standing:
    return compute_standing(PLAN, load_facts(catalog), MilestoneLog(home).statuses(as_of),
                            as_of=as_of)


def drawn(svg: str) -> list[tuple[float, float]]:
    """Where the chart marks the measured values: each vertex of a line through at least two
    points, and each dot. A polyline of one point is not drawn by any browser."""
    root = ElementTree.fromstring(svg)
    marks = []
    for line in root.iter(f"{SVG}polyline"):
        vertices = [(float(px), float(py)) for px, py in
                    (p.split(",") for p in line.get("points", "").split())]
        if "actual" in line.get("class", "") and len(vertices) > 1:
            marks += vertices
    marks += [(float(dot.get("cx", 0)), float(dot.get("cy", 0)))
              for dot in root.iter(f"{SVG}circle")
              if "actual" in dot.get("class", "") and float(dot.get("r", 0)) > 0]
    return marks


@pytest.mark.parametrize("as_of", [ONE_DAY, date(2024, 6, 7)])
def test_every_chart_draws_facts_that_fall_on_one_day(catalog: Catalog, tmp_path: Path,
                                                      as_of: date) -> None:
    """On the day itself and two days later, each chart (shares and counts) marks the value:
    the share charts have a single point (no share exists before the records do)."""
    result = standing(catalog, tmp_path, as_of)
    charts = {target: burnup(PLAN, load_facts(catalog), result, target)
              for target in charted_targets(PLAN, result.period)}
    assert set(charts) == {"signed", "review", "pages"}
    measured = [v for _, v in charts["signed"]["points"] if v is not None]
    assert measured == [1.0]  # the case that drew nothing: one point
    for target, chart in charts.items():
        assert drawn(burnup_svg(chart)), f"{target}: nothing drawn for {chart['points'][-3:]}"


def test_the_single_point_is_where_its_value_is(catalog: Catalog, tmp_path: Path) -> None:
    """The dot of a share of 100% sits on the 100% gridline, at the as-of date (the chart's
    right end only at the period's end: here, partway along the axis); before the first
    record there is no share at all, and no dot is invented."""
    chart = burnup(PLAN, load_facts(catalog), standing(catalog, tmp_path, ONE_DAY), "signed")
    svg = burnup_svg(chart)
    root = ElementTree.fromstring(svg)
    top_label = next(t for t in root.iter(f"{SVG}text") if t.text == "100%")
    [(x, y)] = drawn(svg)
    assert abs(y - (float(top_label.get("y", 0)) - 4)) < 0.2  # the label sits 4 below its line
    left, right = 48, 380 - 12
    assert x == pytest.approx(left + (right - left) * (ONE_DAY - date(2024, 1, 1)).days / 365,
                              abs=0.1)
    before = burnup(PLAN, load_facts(catalog), standing(catalog, tmp_path, date(2024, 5, 1)),
                    "signed")
    assert all(v is None for _, v in before["points"])
    assert drawn(burnup_svg(before)) == []

