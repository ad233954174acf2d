"""The weekly roadmap report is written whole by each writer, however many write at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archive.index import Catalog
from archive.roadmap import measure_roadmap, write_report


def test_writers_at_once_each_write_the_whole_report(tmp_path: Path) -> None:
    """The weekly flow and a manager's `records roadmap --html` may write one report at the
    same moment. With one fixed temporary name, one writer moved the other's file away and
    the other failed (FileNotFoundError) or published a half-written file."""
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    view = measure_roadmap(catalog, tmp_path, None)
    target = tmp_path / "reports" / "roadmap.html"

    def write(_: int) -> int:
        write_report(target, view.roadmap, view.facts, view.standing)
        return len(target.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        sizes = set(pool.map(write, range(64)))
    assert len(sizes) == 1 and sizes.pop() > 1000
    assert [p.name for p in target.parent.iterdir()] == ["roadmap.html"]  # no temporary left
