"""Per-record metadata given by the records officer in the batch's manifest.csv or .toml.

The manifest is advisory: an unreadable row or an unknown column is reported and the batch
goes on with the command line's defaults, since one bad line must not stop a batch.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from archive.store import LEVELS

FIELDS = ("title", "unit", "series", "classification", "date", "language", "document_type",
          "document_number", "issuer", "subjects")
_MAX_VALUE = 500


@dataclass
class Manifest:
    rows: dict[str, dict[str, str]] = field(default_factory=dict)  # source name -> fields
    warnings: list[str] = field(default_factory=list)

    def fields_for(self, source: str) -> dict[str, str]:
        return self.rows.get(source, {})


def _clean(value: object) -> str:
    """One line of printable text, bounded: a manifest cell is never markup or a payload."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text[:_MAX_VALUE]


def _accept(manifest: Manifest, where: str, row: dict[str, object]) -> None:
    source = _clean(row.get("source"))
    if not source:
        manifest.warnings.append(f"{where}: no source given; row ignored")
        return
    extra = sorted(k for k in row if k and k not in FIELDS and k != "source")
    if extra:
        manifest.warnings.append(f"{where}: unknown columns ignored: {', '.join(extra)}")
    values = {k: _clean(row[k]) for k in FIELDS if _clean(row.get(k))}
    manifest.warnings += [f"{where}: {problem}" for problem in _problems(values)]
    manifest.rows[source] = values


def _problems(values: dict[str, str]) -> list[str]:
    """What in a row will not be taken as written. An unknown classification is kept as
    given and read as the highest level (the catalog fails closed), so a typo hides a
    record rather than showing it to everyone; the warning says how to correct it."""
    problems = []
    level = values.get("classification")
    if level is not None and level not in LEVELS:
        problems.append(f"classification {level!r} is not one of {', '.join(LEVELS)}; the "
                        "record is treated as secret until it is corrected")
    day = values.get("date")
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            problems.append(f"date {day!r} is not a date (YYYY-MM-DD); ignored")
    return problems


def unknown_sources(manifest: Manifest, names: set[str]) -> list[str]:
    """Warnings for rows naming no document of the batch (a typo, or a file not copied)."""
    return [f"manifest names {source!r}, which is not in the batch"
            for source in sorted(set(manifest.rows) - names)]


def read_manifest(batch: Path) -> Manifest:
    """Read manifest.csv or manifest.toml from a batch folder, if there is one."""
    manifest = Manifest()
    csv_path, toml_path = batch / "manifest.csv", batch / "manifest.toml"
    try:
        if csv_path.is_file():
            with csv_path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                if not reader.fieldnames or "source" not in reader.fieldnames:
                    manifest.warnings.append("manifest.csv has no 'source' column; ignored")
                    return manifest
                for number, row in enumerate(reader, start=2):
                    _accept(manifest, f"manifest.csv line {number}", row)
        elif toml_path.is_file():
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            for number, row in enumerate(data.get("record", [])):
                if isinstance(row, dict):
                    _accept(manifest, f"manifest.toml record {number + 1}", row)
    except (OSError, UnicodeDecodeError, csv.Error, tomllib.TOMLDecodeError) as exc:
        manifest.warnings.append(f"manifest unreadable ({exc}); command-line values used")
    return manifest
