"""The roadmap's charts as inline SVG: no script, no network, printable, readable offline.

Small hand-made SVG rather than a charting library: three chart shapes, each a few dozen
elements, which any browser (and a printer) renders the same, with nothing to load.
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from archive.roadmap.forecast import Status

# Each colour is also the background of white status labels and the colour of the figures on
# the pages: all four keep 4.5:1 against white (WCAG 2.1 AA for text). A brighter orange for
# "at risk" (#ef8f00) had 2.4:1.
COLOURS: dict[str, str] = {"met": "#2e7d32", "on track": "#1565c0", "at risk": "#b45309",
                           "missed": "#c62828"}
_INK, _GRID, _PLAN, _MUTED = "#1b1b1b", "#d0d0d0", "#7a7a7a", "#595959"


def _number(value: float, share: bool) -> str:
    if share:
        return f"{value * 100:.0f}%"
    return f"{value / 1000:.0f}k" if value >= 10_000 else f"{value:,.0f}"


def burnup_svg(chart: dict[str, Any], width: int = 380, height: int = 200) -> str:
    """A target's value week by week (solid) against its line (dashed), with the due date."""
    share = chart["kind"] == "share"
    start, end = date.fromisoformat(chart["start"]), date.fromisoformat(chart["end"])
    values = [v for _, v in chart["points"] if v is not None]
    top = 1.0 if share else max([chart["threshold"], *values, 1.0]) * 1.1
    left, right, upper, lower = 48, width - 12, 12, height - 28
    span = max(1, (end - start).days)

    def x(day: str) -> float:
        return left + (right - left) * (date.fromisoformat(day) - start).days / span

    def y(value: float) -> float:
        return lower - (lower - upper) * value / top

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'class="chart burnup" role="img" aria-label="{escape(chart["title"])}">']
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        level = top * fraction
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
                     f'stroke="{_GRID}" stroke-width="0.5"/>'
                     f'<text x="{left - 4}" y="{y(level) + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="{_INK}">{_number(level, share)}</text>')
    (x1, y1), (x2, y2) = chart["line"]
    parts.append(f'<line class="plan" x1="{x(x1):.1f}" y1="{y(y1):.1f}" x2="{x(x2):.1f}" '
                 f'y2="{y(y2):.1f}" stroke="{_PLAN}" stroke-width="1.5" '
                 f'stroke-dasharray="5 4"/>')
    due = x(chart["due"])
    parts.append(f'<line x1="{due:.1f}" x2="{due:.1f}" y1="{upper}" y2="{lower}" '
                 f'stroke="{_PLAN}" stroke-width="0.8"/><text x="{due - 3:.1f}" '
                 f'y="{upper + 10}" font-size="11" text-anchor="end" fill="{_INK}">due</text>')
    parts += _actual([(x(day), y(value)) for day, value in chart["points"] if value is not None])
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="11" fill="{_INK}">'
                 f'{start.isoformat()}</text><text x="{right}" y="{height - 8}" font-size="11" '
                 f'text-anchor="end" fill="{_INK}">{end.isoformat()}</text></svg>')
    return "".join(parts)


def _actual(points: list[tuple[float, float]]) -> list[str]:
    """The measured values: a line through them, and a dot on the latest. A line needs two
    points: with one (every record archived on one day, or a share that exists only since the
    last week began) a polyline draws nothing, and the chart looked empty; the dot shows it."""
    if not points:
        return []
    colour = COLOURS["on track"]
    drawn = []
    if len(points) > 1:
        line = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        drawn.append(f'<polyline class="actual" points="{line}" fill="none" '
                     f'stroke="{colour}" stroke-width="2.2"/>')
    last_x, last_y = points[-1]
    drawn.append(f'<circle class="actual latest" cx="{last_x:.1f}" cy="{last_y:.1f}" r="3.5" '
                 f'fill="{colour}"/>')
    return drawn


def share_bars_svg(shares: list[tuple[str, float | None]], threshold: float,
                   width: int = 460) -> str:
    """Each unit's share as a bar, against the threshold line; units without records grey."""
    row, left, right = 16, 52, width - 40
    height = row * len(shares) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'class="chart bars" role="img" aria-label="share signed per unit">']
    for index, (unit, share) in enumerate(shares):
        top = 8 + index * row
        parts.append(f'<text x="{left - 4}" y="{top + 11}" font-size="11" text-anchor="end" '
                     f'fill="{_INK}">{escape(unit)}</text>')
        if share is None:
            parts.append(f'<text x="{left + 2}" y="{top + 11}" font-size="11" '
                         f'fill="{_MUTED}">no records yet</text>')
            continue
        colour = COLOURS["met"] if share >= threshold else COLOURS["at risk"]
        parts.append(f'<rect class="bar" x="{left}" y="{top + 2}" '
                     f'width="{(right - left) * share:.1f}" height="{row - 5}" fill="{colour}"/>'
                     f'<text x="{left + (right - left) * share + 3:.1f}" y="{top + 11}" '
                     f'font-size="11" fill="{_INK}">{share * 100:.0f}%</text>')
    mark = left + (right - left) * threshold
    parts.append(f'<line class="threshold" x1="{mark:.1f}" x2="{mark:.1f}" y1="4" '
                 f'y2="{height - 18}" stroke="{_INK}" stroke-dasharray="4 3"/>'
                 f'<text x="{mark:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
                 f'fill="{_INK}">{threshold * 100:.0f}%</text></svg>')
    return "".join(parts)


def status_colour(status: Status | str) -> str:
    return COLOURS.get(status, _PLAN)
