"""The roadmap report: one self-contained HTML file (inline CSS and SVG, no script), for
screens, e-mail and paper; the web app shows the same body on its dashboard page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from archive.roadmap.charts import COLOURS, burnup_svg, share_bars_svg
from archive.roadmap.plan import METRICS, Roadmap
from archive.roadmap.progress import Facts
from archive.roadmap.standing import STATUSES, Standing, burnup, charted_targets
from archive.store import write_atomic

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def report_context(roadmap: Roadmap, facts: Facts, standing: Standing) -> dict[str, Any]:
    """What the report shows: the standing, a burn-up per target, the signed share per unit
    against its threshold, and the heat map of units by target status."""
    # Markup: the SVG is ours, every text in it escaped where it is made (archive.roadmap.charts).
    charts = [(chart, Markup(burnup_svg(chart)))
              for chart in (burnup(roadmap, facts, standing, target_id)
                            for target_id in charted_targets(roadmap, standing.period))]
    signed = [t.target for u in standing.units for t in u.targets if t.metric == "signed_share"]
    threshold = signed[0] if signed else 0.8
    bars = Markup(share_bars_svg([(u.unit, u.signed_share) for u in standing.units],
                                 threshold))
    columns = list(dict.fromkeys(t.id for u in standing.units for t in u.targets))
    heat = [(u, {t.id: t for t in u.targets}) for u in standing.units]
    return {"s": standing, "charts": charts, "bars": bars, "signed_threshold": threshold,
            "columns": columns, "heat": heat, "colours": COLOURS, "statuses": STATUSES,
            "metrics": METRICS}


def render_report(roadmap: Roadmap, facts: Facts, standing: Standing) -> str:
    return _env.get_template("roadmap_report.html").render(
        **report_context(roadmap, facts, standing))


def write_report(path: Path, roadmap: Roadmap, facts: Facts, standing: Standing) -> Path:
    """Write the report atomically (a reader never opens half a file), through a temporary
    file of this writer's own: two writers at once (the weekly flow and a manager's command)
    must not move each other's half-written file."""
    write_atomic(path, render_report(roadmap, facts, standing).encode())
    return path
