"""The roadmap: targets per unit and period, measured from the archive, with forecasts.

Managers write the plan (``plan``: periods, units, targets, milestones, from TOML); the facts
it is measured by are read from the catalog and the batch ledger, never typed in
(``progress``); each target gets its value, status, forecast and required rate (``forecast``,
``standing``); milestones' statuses are the one thing a person sets, in a hash-chained log
(``milestones``). ``service`` measures a roadmap on a day for every caller alike, and
``report`` and ``charts`` draw it as self-contained HTML and SVG. The top wing: it reads the
index and the intake ledger.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "authorities": ["ADDED", "added_file", "configured_authorities"],
    "charts": ["COLOURS", "burnup_svg", "share_bars_svg", "status_colour"],
    "forecast": ["Outlook", "Status", "add_working_days", "count_outlook", "open_outlook",
                 "rate", "share_outlook", "working_days"],
    "milestones": ["MilestoneError", "MilestoneLog", "MilestoneStatus"],
    "plan": ["DEFAULT_FILE", "METRICS", "MILESTONE_STATES", "Calendar", "Metric", "Milestone",
             "Period", "Roadmap", "RoadmapError", "Target", "Unit", "load_roadmap",
             "parse_roadmap"],
    "progress": ["Facts", "load_facts", "rebuild_progress", "record_batch", "weekly"],
    "report": ["TEMPLATES", "render_report", "report_context", "write_report"],
    "service": ["RoadmapView", "measure_roadmap", "today"],
    "standing": ["STATUSES", "Standing", "TargetStanding", "UnitStanding", "burnup",
                 "charted_targets", "compute_standing", "figures"],
})
