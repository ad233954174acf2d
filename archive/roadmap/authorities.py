"""The authority list as configured: the roadmap's units, the shipped (or configured) list
of bodies, and what managers added, in that order (later ones override by code).

It lives with the roadmap because both are the managers' own configuration, and the
roadmap's units are the list's seed; the matching itself is intake's
(:mod:`archive.intake.authority`).
"""

from __future__ import annotations

from pathlib import Path

from archive.intake import AuthorityList, load_authorities
from archive.roadmap.plan import load_roadmap

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "config" / "authorities.toml"
"""The shipped list: the example department's correspondents."""
ADDED = "authorities.toml"
"""Managers' additions, in RECORDS_HOME."""


def added_file(home: Path) -> Path:
    return home / ADDED


def configured_authorities(roadmap_file: Path | None, authorities_file: Path | None,
                           home: Path) -> AuthorityList:
    """The list a batch matches issuers against (raises RoadmapError or AuthorityError,
    each saying what is wrong with which file)."""
    units = load_roadmap(roadmap_file).units
    return load_authorities([authorities_file or DEFAULT_FILE, added_file(home)], units)
