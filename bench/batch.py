"""Batch benchmark: a 200-page batch through ``records queue`` (the real flow), memory bounded.

Renders the project's own letters until the batch holds at least ``--pages`` pages, runs
``records queue`` on it in a fresh RECORDS_HOME, and samples the summed RSS of the whole
process tree (the CLI, the embedded Prefect server, every Tesseract) every 0.2 s. The target
from the design: a 200-page batch stays under 1.5 GB. Run from the project root:

    .venv/bin/python bench/batch.py [--pages 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import PeakMemory, console, fmt_bytes, make_table

from records.samples import render_batch

LIMIT_BYTES = 1.5 * 1024**3


def render(dest: Path, pages: int) -> int:
    """Render letters until the batch has at least *pages* pages; return the page count."""
    letters = max(1, pages // 2)
    while True:
        rendered = render_batch(dest, letters=letters, seed=7)
        total = sum(len(truth.pages) for _, truth in rendered)
        if total >= pages:
            return total
        letters += max(1, (pages - total) // 2)


def run(batch: Path, home: Path) -> tuple[float, int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    started = time.perf_counter()
    with PeakMemory() as memory:
        done = subprocess.run([sys.executable, "-m", "records.cli", "queue", str(batch),
                               "--unit", "BENCH", "--json"],
                              env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):
        console.print(done.stderr[-3000:])
        raise SystemExit(f"records queue failed with exit {done.returncode}")
    return wall, memory.peak, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="records-bench-") as scratch:
        batch, home = Path(scratch) / "batch", Path(scratch) / "home"
        started = time.perf_counter()
        pages = render(batch, args.pages)
        console.print(f"rendered {pages} pages in {time.perf_counter() - started:.0f} s")
        wall, peak, result = run(batch, home)
    archived = sum(d["status"] == "archived" for d in result["documents"])
    figures = {
        "pages": pages, "documents": len(result["documents"]), "archived": archived,
        "wall_seconds": round(wall, 1), "pages_per_minute": round(pages * 60 / wall, 1),
        "peak_rss_bytes": peak, "peak_under_limit": peak < LIMIT_BYTES,
    }
    console.print(make_table(
        "records queue, one batch", ["pages", "documents", "wall", "pages/min", "peak RSS",
                                     "< 1.5 GB"],
        [[str(pages), f"{archived}/{len(result['documents'])}", f"{wall:.0f} s",
          f"{figures['pages_per_minute']}", fmt_bytes(peak), str(peak < LIMIT_BYTES)]]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
