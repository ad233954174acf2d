"""Batch benchmark: a 200-page batch through ``records queue`` against the engine alone, and
where the flow's time goes.

Renders the project's own letters until the batch holds at least ``--pages`` pages. The same
documents are then converted twice, each time from an empty page cache:

- **the engine alone**: every document through ``ocr.pipeline.ocr_to_pdfa`` in one process,
  all documents' pages through one pool of page workers (one per core), no Prefect, no
  signing, no storage: the pages-per-minute the flow is held against;
- **records queue**: the real flow (embedded Prefect, validation, OCR, PDF/A, signing and
  verification, storage, catalog) in a fresh RECORDS_HOME with a development key.

For the queue run it reads back where the time went: Prefect's own record of every task run
(its embedded database), the page results (the engine's seconds per page) and each record's
events (assembly, signing and verification seconds), and samples the summed RSS of the
whole process tree every 0.2 s (target: under 1.5 GB). Run from the project root:

    .venv/bin/python bench/batch.py [--pages 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import CpuMeter, PeakMemory, console, fmt_bytes, make_table

from records.samples import render_batch

LIMIT_BYTES = 1.5 * 1024**3
ENGINE_GOAL = 0.85  # records queue's pages a minute over the engine's

ENGINE = '''
import csv, json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
batch, out, cache = (Path(p) for p in sys.argv[1:4])
with (batch / "manifest.csv").open(encoding="utf-8", newline="") as handle:
    languages = {row["source"]: row["language"] for row in csv.DictReader(handle)}
sources = sorted(p for p in batch.iterdir() if p.name != "manifest.csv")
jobs = os.cpu_count() or 1
started = time.perf_counter()
with ThreadPoolExecutor(jobs) as pages, ThreadPoolExecutor(len(sources)) as documents:
    def one(index_source):
        index, source = index_source
        options = OcrOptions(languages=languages.get(source.name) or sys.argv[4], jobs=jobs)
        return len(ocr_to_pdfa([source], out / f"{index}.pdf", options, cache, pool=pages).pages)
    done = sum(documents.map(one, enumerate(sources)))
print(json.dumps({"pages": done, "seconds": time.perf_counter() - started}))
'''


def render(dest: Path, pages: int) -> int:
    """Render letters until the batch has at least *pages* pages; return the page count."""
    letters = max(1, pages // 2)
    while True:
        rendered = render_batch(dest, letters=letters, seed=7)
        total = sum(len(truth.pages) for _, truth in rendered)
        if total >= pages:
            return total
        letters += max(1, (pages - total) // 2)


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    return env


def run_engine(batch: Path, scratch: Path, languages: str) -> dict[str, Any]:
    """The documents through the engine alone, in a child process (its own memory)."""
    out, cache = scratch / "engine-out", scratch / "engine-cache"
    out.mkdir()
    script = scratch / "engine.py"
    script.write_text(ENGINE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with CpuMeter() as meter:
        done = subprocess.run([sys.executable, str(script), str(batch), str(out), str(cache),
                               languages], capture_output=True, text=True, env=env,
                              check=False)
    if done.returncode != 0:
        raise SystemExit(f"the engine run failed: {done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_with_startup": meter.wall, "cpu": meter.cpu,
            "foreign_cores": meter.foreign_cores}


def run_queue(batch: Path, home: Path) -> tuple[float, int, dict[str, Any], CpuMeter]:
    env = clean_env(home)
    keys = subprocess.run([sys.executable, "-m", "records.cli", "keys", "init"], env=env,
                          capture_output=True, text=True, check=False)
    if keys.returncode != 0:
        raise SystemExit(f"records keys init failed: {keys.stderr[-2000:]}")
    started = time.perf_counter()
    with PeakMemory() as memory, CpuMeter() as meter:
        done = subprocess.run([sys.executable, "-m", "records.cli", "queue", str(batch),
                               "--unit", "BENCH", "--json"],
                              env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):
        console.print(done.stderr[-3000:])
        raise SystemExit(f"records queue failed with exit {done.returncode}")
    return wall, memory.peak, json.loads(done.stdout), meter


# --------------------------------------------------------------------------- where it went


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def prefect_runs(home: Path) -> tuple[float, dict[str, list[float]]]:
    """The flow run's own duration and every task run's, by task, from Prefect's database."""
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        flows = db.execute("SELECT start_time, end_time FROM flow_run "
                           "WHERE start_time IS NOT NULL").fetchall()
        tasks = db.execute("SELECT name, start_time, end_time FROM task_run "
                           "WHERE start_time IS NOT NULL").fetchall()
    flow = max((_seconds(s, e) for s, e in flows), default=0.0)
    by_task: dict[str, list[float]] = defaultdict(list)
    for name, start, end in tasks:
        by_task[name.rsplit("-", 1)[0]].append(_seconds(start, end))
    return flow, dict(by_task)


def page_seconds(home: Path) -> list[float]:
    """What the engine spent on each page inside its task (the page cache's results)."""
    return [json.loads(p.read_text(encoding="utf-8"))["seconds"]
            for p in (home / "cache" / "pages").glob("*/*/result.json")]


def event_seconds(home: Path) -> dict[str, float]:
    """Assembly (with PDF/A validation), signing and verification, summed over the records."""
    sums: dict[str, float] = defaultdict(float)
    for sidecar in (home / "archive").rglob("record.json"):
        for event in json.loads(sidecar.read_text(encoding="utf-8")).get("provenance", []):
            if event.get("seconds") is not None:
                sums[event["type"]] += float(event["seconds"])
    return dict(sums)


def breakdown(home: Path, wall: float, cores: int) -> list[tuple[str, float, str]]:
    """(part, core-seconds or seconds, what it is), the flow's time as the run spent it."""
    flow, tasks = prefect_runs(home)
    engine = sum(page_seconds(home))
    events = event_seconds(home)
    ocr_tasks = sum(tasks.get("ocr_page", []))
    archive = sum(tasks.get("archive_document", []))
    inside = sum(events.values())
    rows = [
        ("records queue, wall", wall, "s"),
        ("before and after the flow run (interpreter, imports, embedded server, ledger)",
         wall - flow, "s"),
        ("the flow run", flow, "s"),
        (f"page tasks ({len(tasks.get('ocr_page', []))})", ocr_tasks, "task s"),
        ("  the engine inside them (raster, level, turn, Tesseract)", engine, "task s"),
        ("  the task around the engine (Prefect's task run, the page cache)",
         ocr_tasks - engine, "task s"),
        (f"validation tasks ({len(tasks.get('validate_document', []))})",
         sum(tasks.get("validate_document", [])), "task s"),
        (f"archiving tasks ({len(tasks.get('archive_document', []))})", archive, "task s"),
    ]
    for name, label in (("pdfa-validated", "PDF/A assembly and validation"),
                        ("signed", "signing"), ("verified", "verification")):
        if name in events:
            rows.append((f"  {label}", events[name], "task s"))
    rows.append(("  the rest (fields, the store's commit, the catalog)", archive - inside,
                 "task s"))
    for name in sorted(set(tasks) - {"ocr_page", "validate_document", "archive_document"}):
        rows.append((f"{name} ({len(tasks[name])})", sum(tasks[name]), "task s"))
    rows.append((f"cores x flow run ({cores} cores)", cores * flow, "core s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--languages", default="eng",
                        help="languages for a document the manifest gives none (the "
                             "engine, as records queue, takes each document's from it)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="records-bench-") as scratch:
        work = Path(scratch)
        batch, home = work / "batch", work / "home"
        started = time.perf_counter()
        pages = render(batch, args.pages)
        console.print(f"rendered {pages} pages in {time.perf_counter() - started:.0f} s; the "
                      "engine alone ...")
        engine = run_engine(batch, work, args.languages)
        console.print(f"engine: {engine['pages']} pages in {engine['seconds']:.0f} s; "
                      "records queue ...")
        wall, peak, result, meter = run_queue(batch, home)
        rows = breakdown(home, wall, cores)
    archived = sum(d["status"] == "archived" for d in result["documents"])
    engine_ppm = engine["pages"] * 60 / engine["seconds"]
    queue_ppm = pages * 60 / wall
    figures = {
        "pages": pages, "documents": len(result["documents"]), "archived": archived,
        "wall_seconds": round(wall, 1), "pages_per_minute": round(queue_ppm, 1),
        "engine": engine, "engine_pages_per_minute": round(engine_ppm, 1),
        "queue_over_engine": queue_ppm / engine_ppm, "foreign_cores": meter.foreign_cores,
        "peak_rss_bytes": peak, "peak_under_limit": peak < LIMIT_BYTES,
        "breakdown": [{"part": p, "seconds": s, "unit": u} for p, s, u in rows],
    }
    console.print(make_table(
        "records queue against the engine alone, one batch",
        ["pages", "documents", "engine pages/min", "queue wall", "queue pages/min",
         f"queue / engine (goal {ENGINE_GOAL})", "peak RSS", "< 1.5 GB", "others' cores"],
        [[str(pages), f"{archived}/{len(result['documents'])}", f"{engine_ppm:.1f}",
          f"{wall:.0f} s", f"{queue_ppm:.1f}", f"{queue_ppm / engine_ppm:.2f}",
          fmt_bytes(peak), str(peak < LIMIT_BYTES), f"{meter.foreign_cores:.2f}"]]))
    console.print(make_table("where records queue's time goes", ["part", "seconds", "unit"],
                             [[p, f"{s:.1f}", u] for p, s, u in rows], right_from=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
