"""When will a target be met at the recent rate, and what rate would meet it on time?

Plain arithmetic on working days (``archive.roadmap.plan.Calendar``), kept apart so each rule can be
checked by hand in the tests. Rates are per working day: a unit that digitises on weekdays
does not "fall behind" over a weekend or a public holiday.

Statuses: ``met`` (the target holds as of the date), ``missed`` (its due date has passed and
it does not), ``on track`` (the recent rate meets it by its due date), ``at risk`` (it does
not, or there is no recent work to go by).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from archive.roadmap.plan import Calendar

Status = Literal["met", "on track", "at risk", "missed"]
_HORIZON_DAYS = 366 * 50  # a forecast further out than this is no forecast


@dataclass(frozen=True)
class Outlook:
    status: Status
    forecast: date | None  # the day the target is (or would be, at the recent rate) met
    required_rate: float | None  # per working day, from the day after as_of to the due date


def working_days(calendar: Calendar, after: date, through: date) -> int:
    """Working days in (after, through]."""
    days, day = 0, after + timedelta(days=1)
    while day <= through:
        days += calendar.is_working(day)
        day += timedelta(days=1)
    return days


def add_working_days(calendar: Calendar, start: date, count: int) -> date | None:
    """The ``count``-th working day after ``start`` (``start`` itself for 0)."""
    day = start
    for _ in range(_HORIZON_DAYS):
        if count <= 0:
            return day
        day += timedelta(days=1)
        count -= calendar.is_working(day)
    return None


def rate(calendar: Calendar, done: float, after: date, through: date) -> float:
    """Items per working day over (after, through]; 0 when there was no working day."""
    days = working_days(calendar, after, through)
    return done / days if days else 0.0


def count_outlook(calendar: Calendar, value: float, threshold: float, recent_rate: float,
                  as_of: date, due: date) -> Outlook:
    """A planned volume (records, pages): met once ``value`` reaches ``threshold``."""
    if value >= threshold:
        return Outlook("met", None, None)
    remaining = threshold - value
    forecast = (add_working_days(calendar, as_of, math.ceil(remaining / recent_rate))
                if recent_rate > 0 else None)
    return _judged(calendar, forecast, remaining, as_of, due)


def share_outlook(calendar: Calendar, part: float, whole: float, part_rate: float,
                  whole_rate: float, threshold: float, as_of: date, due: date, *,
                  ceiling: bool = False) -> Outlook:
    """A share ``part / whole`` that must reach ``threshold`` (or stay at most it, for a
    ceiling), both growing at their recent rates.

    The forecast solves (part + part_rate t) / (whole + whole_rate t) = threshold for t
    working days. The required rate is how many more of ``part`` per working day bring the
    share to the threshold by the due date if ``whole`` keeps growing at its rate (for a
    ceiling: the most that may be added; below zero, that many must be cleared a day).
    """
    if _holds(part, whole, threshold, ceiling):
        return Outlook("met", None, None)
    sign = -1 if ceiling else 1
    gap = sign * (threshold * whole - part)  # > 0: how far from the threshold
    closing = sign * (part_rate - threshold * whole_rate)  # > 0: the gap shrinks
    forecast = (add_working_days(calendar, as_of, math.ceil(gap / closing))
                if closing > 0 else None)
    days = working_days(calendar, as_of, due)
    outlook = _judged(calendar, forecast, 0, as_of, due)
    expected = whole + whole_rate * days  # records by the due date, at the recent rate
    required = (threshold * expected - part) / days if days and expected else None
    return Outlook(outlook.status, forecast, required)


def _holds(part: float, whole: float, threshold: float, ceiling: bool) -> bool:
    if whole <= 0:
        return ceiling  # nothing digitised: nothing needs review, nothing is signed
    share = part / whole
    return share <= threshold if ceiling else share >= threshold


def _judged(calendar: Calendar, forecast: date | None, remaining: float, as_of: date,
            due: date) -> Outlook:
    days = working_days(calendar, as_of, due)
    required = remaining / days if remaining and days else None
    if as_of > due:
        return Outlook("missed", forecast, None)
    on_track = forecast is not None and forecast <= due
    return Outlook("on track" if on_track else "at risk", forecast, required)


def open_outlook(done_on: date | None, blocked: bool, as_of: date, due: date,
                 risk_days: int) -> Outlook:
    """Something that happens once (a unit first signing with a certificate, a milestone):
    met when done; missed after its due date; at risk when blocked or due within
    ``risk_days``; on track otherwise."""
    if done_on is not None and done_on <= as_of:
        return Outlook("met", done_on, None)
    if as_of > due:
        return Outlook("missed", None, None)
    if blocked or (due - as_of).days <= risk_days:
        return Outlook("at risk", None, None)
    return Outlook("on track", None, None)
