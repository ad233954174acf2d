"""Forecasts and required rates, on cases worked out by hand (June 2024: 3 June a Monday)."""

from __future__ import annotations

from datetime import date

import pytest

from archive.roadmap import (
    Calendar,
    add_working_days,
    count_outlook,
    open_outlook,
    share_outlook,
    working_days,
)

WEEKDAYS = Calendar()
WITH_HOLIDAY = Calendar(holidays=frozenset({date(2024, 6, 10)}))
MONDAY, DUE = date(2024, 6, 3), date(2024, 6, 28)  # 19 working days after the Monday


def test_working_days_skip_weekends_and_holidays() -> None:
    assert working_days(WEEKDAYS, MONDAY, DUE) == 19
    assert working_days(WITH_HOLIDAY, MONDAY, DUE) == 18
    assert working_days(WEEKDAYS, date(2024, 6, 7), date(2024, 6, 9)) == 0  # Fri -> Sun
    assert add_working_days(WEEKDAYS, date(2024, 6, 7), 1) == date(2024, 6, 10)
    assert add_working_days(WITH_HOLIDAY, date(2024, 6, 7), 1) == date(2024, 6, 11)
    assert add_working_days(WEEKDAYS, MONDAY, 0) == MONDAY


def test_count_behind_plan_is_at_risk_with_the_rate_needed() -> None:
    # 200 pages to go at 10 a day: 20 working days, the 20th after 3 June is 1 July.
    outlook = count_outlook(WEEKDAYS, 100, 300, 10, MONDAY, DUE)
    assert outlook.forecast == date(2024, 7, 1)
    assert outlook.status == "at risk"
    assert outlook.required_rate == pytest.approx(200 / 19)


def test_count_ahead_of_plan_is_on_track() -> None:
    outlook = count_outlook(WEEKDAYS, 100, 300, 20, MONDAY, DUE)  # 10 working days
    assert (outlook.status, outlook.forecast) == ("on track", date(2024, 6, 17))


def test_count_met_missed_and_idle() -> None:
    assert count_outlook(WEEKDAYS, 300, 300, 0, MONDAY, DUE).status == "met"
    late = count_outlook(WEEKDAYS, 100, 300, 10, date(2024, 7, 1), DUE)
    assert late.status == "missed" and late.required_rate is None
    idle = count_outlook(WEEKDAYS, 100, 300, 0, MONDAY, DUE)
    assert (idle.status, idle.forecast) == ("at risk", None)


def test_share_floor_forecast_and_required_rate() -> None:
    # 60 of 100 signed; 9 signed and 10 digitised a day. (60 + 9t) / (100 + 10t) = 0.8 at
    # t = 20 working days (1 July): at risk. By the due date 100 + 190 = 290 records, of
    # which 232 must be signed: (232 - 60) / 19 a day.
    outlook = share_outlook(WEEKDAYS, 60, 100, 9, 10, 0.8, MONDAY, DUE)
    assert outlook.forecast == date(2024, 7, 1) and outlook.status == "at risk"
    assert outlook.required_rate == pytest.approx(172 / 19)
    # Signing all new records (10 a day): t = 20 / 2 = 10 days, 17 June: on track.
    assert share_outlook(WEEKDAYS, 60, 100, 10, 10, 0.8, MONDAY, DUE).forecast == date(
        2024, 6, 17)
    # Signing no more than the threshold's share of new records never closes the gap.
    assert share_outlook(WEEKDAYS, 60, 100, 8, 10, 0.8, MONDAY, DUE).forecast is None


def test_share_ceiling() -> None:
    # 15 of 100 need review (ceiling 10%); 0.5 flagged and 10 digitised a day:
    # (15 + 0.5t) <= 0.1 (100 + 10t) at t = 5 / 0.5 = 10 working days.
    outlook = share_outlook(WEEKDAYS, 15, 100, 0.5, 10, 0.1, MONDAY, DUE, ceiling=True)
    assert (outlook.status, outlook.forecast) == ("on track", date(2024, 6, 17))
    assert share_outlook(WEEKDAYS, 5, 100, 1, 10, 0.1, MONDAY, DUE, ceiling=True
                         ).status == "met"
    assert share_outlook(WEEKDAYS, 0, 0, 0, 0, 0.1, MONDAY, DUE, ceiling=True).status == "met"
    assert share_outlook(WEEKDAYS, 0, 0, 0, 0, 0.8, MONDAY, DUE).status == "at risk"


def test_things_that_happen_once() -> None:
    assert open_outlook(date(2024, 5, 1), False, MONDAY, DUE, 30).status == "met"
    assert open_outlook(None, False, MONDAY, date(2024, 12, 31), 30).status == "on track"
    assert open_outlook(None, False, MONDAY, DUE, 30).status == "at risk"  # 25 days left
    assert open_outlook(None, True, MONDAY, date(2024, 12, 31), 30).status == "at risk"
    assert open_outlook(None, False, date(2024, 7, 1), DUE, 30).status == "missed"
    assert open_outlook(date(2024, 7, 1), False, MONDAY, DUE, 30).status == "at risk"
