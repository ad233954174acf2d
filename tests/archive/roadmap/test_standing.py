"""Roadmap standing computed from a real catalog (SQLite and PostgreSQL): each unit's figures
move exactly with its own records, as of any date, with forecasts that follow the rules."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.index import Catalog
from archive.intake import BatchReport, DocumentStatus
from archive.roadmap import (
    MilestoneLog,
    Roadmap,
    Standing,
    burnup,
    compute_standing,
    load_facts,
    parse_roadmap,
    record_batch,
    working_days,
)
from archive.store import level_of

PLAN = parse_roadmap({
    "roadmap": {"title": "Test plan", "recent_weeks": 4},
    "periods": [{"id": "2024", "start": date(2024, 1, 1), "end": date(2024, 12, 31),
                 "quarters": True}],
    "units": [{"code": "VP", "name": "Office", "parent": "TC"},
              {"code": "HN", "name": "Hanoi", "parent": "TC"}],
    "targets": [
        {"id": "signed", "metric": "signed_share", "period": "2024", "threshold": 0.8,
         "due": "end"},
        {"id": "org", "metric": "signs_with_org", "period": "2024", "due": "end"},
        {"id": "verified", "metric": "verified_share", "period": "2024", "threshold": 0.99,
         "due": "end"},
        {"id": "review", "metric": "review_share", "period": "2024", "threshold": 0.1,
         "due": "end"},
        {"id": "pages", "metric": "pages", "period": "2024", "threshold": 1500, "due": "end"},
        {"id": "records-q2", "metric": "records", "period": "2024-Q2", "threshold": 4,
         "due": "end"}],
    "milestones": [{"id": "net", "title": "Network", "unit": "VP", "period": "2024",
                    "due": date(2024, 9, 30)}],
})
AS_OF = date(2024, 6, 28)  # a Friday; the recent window is 31 May (excl.) to 28 June


@pytest.fixture
def catalog(empty_catalog: Catalog) -> Catalog:
    catalog = empty_catalog
    add(catalog, "VP-2024-000001", "VP", "2024-06-03", pages=2, identity="organisation",
        checks=[("2024-06-03T10:00:00+00:00", True)])
    add(catalog, "VP-2024-000002", "VP", "2024-06-04", pages=2, identity="organisation",
        checks=[("2024-06-04T10:00:00+00:00", True), ("2024-06-20T02:00:00+00:00", False)])
    add(catalog, "VP-2024-000003", "VP", "2024-06-05", pages=2, review=True)
    add(catalog, "HN-2024-000001", "HN", "2024-06-04", pages=5, identity="personal",
        checks=[("2024-06-04T11:00:00+00:00", True)])
    return catalog


def add(catalog: Catalog, record_id: str, unit: str, day: str, *, pages: int,
        identity: str = "", review: bool = False,
        checks: list[tuple[str, bool]] | None = None) -> None:
    catalog.add({"record_id": record_id, "title": record_id, "unit": unit,
                 "classification": "public", "level": level_of("public"),
                 "signed": bool(identity), "signer_identity": identity,
                 "needs_review": review, "pages": pages, "archived_at": f"{day}T09:00:00+00:00"},
                [f"trang {n} của {record_id}" for n in range(pages)], checks or [])


def now(catalog: Catalog, home: Path, as_of: date = AS_OF, roadmap: Roadmap = PLAN,
        **kwargs: Any) -> Standing:
    return compute_standing(roadmap, load_facts(catalog), MilestoneLog(home).statuses(as_of),
                    as_of=as_of, **kwargs)


def unit(result: Standing, code: str) -> Any:
    return next(u for u in result.units if u.unit == code)


def target(result: Standing, code: str, target_id: str) -> Any:
    return next(t for t in unit(result, code).targets if t.id == target_id)


def test_figures_per_unit(catalog: Catalog, tmp_path: Path) -> None:
    result = now(catalog, tmp_path)
    assert unit(result, "VP").figures == {
        "records": 3, "pages": 6, "signed": 2, "signed_org": 2, "signed_personal": 0,
        "searchable": 3, "review": 1, "quarantined": 0, "verified": 1}
    assert unit(result, "HN").figures["signed_personal"] == 1
    assert result.overall["records"] == 4 and result.overall["units_signing_with_org"] == 1


def test_ingesting_for_a_unit_moves_exactly_its_figures(catalog: Catalog,
                                                        tmp_path: Path) -> None:
    before = now(catalog, tmp_path)
    add(catalog, "VP-2024-000004", "VP", "2024-06-10", pages=7, identity="organisation",
        checks=[("2024-06-10T10:00:00+00:00", True)])
    after = now(catalog, tmp_path)
    assert unit(after, "HN").figures == unit(before, "HN").figures
    assert [t.as_dict() for t in unit(after, "HN").targets] == [
        t.as_dict() for t in unit(before, "HN").targets]
    moved = {k: unit(after, "VP").figures[k] - unit(before, "VP").figures[k]
             for k in unit(before, "VP").figures}
    assert moved == {"records": 1, "pages": 7, "signed": 1, "signed_org": 1,
                     "signed_personal": 0, "searchable": 1, "review": 0, "quarantined": 0,
                     "verified": 1}
    assert target(after, "VP", "signed").value == pytest.approx(3 / 4)


def test_as_of_a_past_date(catalog: Catalog, tmp_path: Path) -> None:
    early = now(catalog, tmp_path, as_of=date(2024, 6, 4))
    assert unit(early, "VP").figures["records"] == 2
    # The second record failed verification on 20 June: verified before, not after.
    assert unit(now(catalog, tmp_path, as_of=date(2024, 6, 19)), "VP").figures["verified"] == 2
    assert unit(now(catalog, tmp_path), "VP").figures["verified"] == 1
    assert target(now(catalog, tmp_path, as_of=date(2024, 5, 31)), "VP", "org").status in (
        "on track", "at risk")
    assert target(early, "VP", "org").value == "2024-06-03"


def test_quarantined_documents_count_for_their_unit(catalog: Catalog, tmp_path: Path) -> None:
    report = BatchReport("B1", [], finished="2024-06-12T08:00:00+00:00", documents=[
        DocumentStatus("a.pdf", unit="HN", status="quarantined", reason="damaged PDF"),
        DocumentStatus("b.png", unit="HN", status="archived", record_id="HN-2024-000001",
                       pages=5)])
    assert record_batch(catalog, report) == 2
    assert record_batch(catalog, report) == 2  # a rerun replaces, never doubles
    assert unit(now(catalog, tmp_path), "HN").figures["quarantined"] == 1
    assert unit(now(catalog, tmp_path, as_of=date(2024, 6, 11)), "HN").figures[
        "quarantined"] == 0
    assert unit(now(catalog, tmp_path), "VP").figures["quarantined"] == 0


def test_targets_status_forecast_and_required_rate(catalog: Catalog, tmp_path: Path) -> None:
    result = now(catalog, tmp_path)
    calendar = PLAN.calendar
    recent_days = working_days(calendar, date(2024, 5, 31), AS_OF)
    assert recent_days == 20
    pages = target(result, "VP", "pages")
    assert pages.value == 6 and pages.rate == pytest.approx(6 / 20)
    assert pages.required_rate == pytest.approx(1494 / working_days(calendar, AS_OF,
                                                                    date(2024, 12, 31)))
    assert pages.status == "at risk" and pages.forecast is not None
    assert pages.forecast > date(2024, 12, 31)
    signed = target(result, "VP", "signed")  # 2 of 3 < 80%; 2 signed, 3 digitised in window
    assert signed.value == pytest.approx(2 / 3) and signed.status == "at risk"
    assert signed.forecast is None  # signing 2 of 3 new records never reaches 80%
    assert target(result, "HN", "org").value is None
    review = target(result, "VP", "review")  # 1 of 3 flagged, 1 in 3 new ones: no end to it
    assert (review.value, review.status, review.forecast) == (pytest.approx(1 / 3), "at risk",
                                                              None)
    quarter = target(result, "VP", "records-q2")  # the year's view shows the current quarter
    assert (quarter.value, quarter.target, quarter.due) == (3, 4, date(2024, 6, 30))
    assert quarter.status == "at risk"  # 1 to go, nothing the last two days: 3 in 20 days
    # 1 to go at 0.15 a day: 7 working days after Friday 28 June is Tuesday 9 July; no
    # working day is left before the due date (a Sunday), so no rate can meet it.
    assert quarter.forecast == date(2024, 7, 9) and quarter.required_rate is None
    after = now(catalog, tmp_path, as_of=date(2024, 7, 2), period_id="2024-Q2")
    assert target(after, "VP", "records-q2").status == "missed"
    assert "records-q2" not in {t.id for t in unit(now(catalog, tmp_path, as_of=date(2024, 7, 2)),
                                                   "VP").targets}  # Q3 is current now


def test_milestones_as_of(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="status 'finished' is not one of"):
        MilestoneLog(tmp_path).set_status(PLAN, "net", "finished", "boss")
    with pytest.raises(ValueError, match="no milestone 'web'"):
        MilestoneLog(tmp_path).set_status(PLAN, "web", "done", "boss")
    MilestoneLog(tmp_path).set_status(PLAN, "net", "in progress", "boss",
                          at=datetime.fromisoformat("2024-05-02T09:00:00+00:00"))
    MilestoneLog(tmp_path).set_status(PLAN, "net", "done", "boss", "three offices linked",
                          at=datetime.fromisoformat("2024-06-20T09:00:00+00:00"))
    assert target(now(catalog, tmp_path, as_of=date(2024, 6, 1)), "VP", "net").value == (
        "in progress")
    done = target(now(catalog, tmp_path), "VP", "net")
    assert (done.value, done.status, done.forecast) == ("done", "met", date(2024, 6, 20))
    assert MilestoneLog(tmp_path).check() == []
    log = MilestoneLog(tmp_path).path
    log.write_text(log.read_text().replace('"in progress"', '"blocked"', 1))
    assert MilestoneLog(tmp_path).check()  # an edited line is detected by the line after it


def test_json_shape_and_burnup(catalog: Catalog, tmp_path: Path) -> None:
    data = now(catalog, tmp_path, unit="VP").as_dict()
    assert data["period"] == "2024" and data["as_of"] == "2024-06-28"
    [vp] = data["units"]
    assert {"unit", "targets", "records", "pages", "signed", "signed_share"} <= set(vp)
    assert {"metric", "target", "value", "status", "due", "forecast", "required_rate"} <= set(
        vp["targets"][0])
    assert data["overall"]["records"] == 3
    result = now(catalog, tmp_path)
    chart = burnup(PLAN, load_facts(catalog), result, "pages")
    values = [v for _, v in chart["points"]]
    assert chart["points"][-1] == ("2024-06-28", 11.0) and values == sorted(values)
    assert chart["line"] == [("2024-01-01", 0.0), ("2024-12-31", 3000.0)]
