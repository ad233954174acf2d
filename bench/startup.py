"""Start-up benchmark: how long the commands that do no OCR take, from typing to the answer.

An archivist types ``records search`` or ``records show`` many times a day; each start pays
for the interpreter and for every module the command imports. This bench makes a small
archive (one sample batch through ``records demo``), then runs each command several times
and reports the median wall time, the interpreter's own start for reference, and the time
the command's imports take (``python -X importtime``), so a slow start can be traced to the
module that causes it. Run from the project root:

    .venv/bin/python bench/startup.py [--repeats 7] [--json bench/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import console, machine_load, make_table, verdict

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 0.3


@dataclass
class Timing:
    """One command's start-up: wall times of its runs, and what importing it costs."""

    command: str
    runs: list[float]
    imports: float  # seconds, the command's module imports as -X importtime adds them
    heaviest: list[tuple[str, float]]  # top-level packages by cumulative import time
    exit_code: int

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def records_binary() -> str:
    beside = Path(sys.executable).parent / "records"
    return str(beside) if beside.exists() else "records"


def run(args: Sequence[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Run from the scratch folder, as a user would, not from the project (whose
    pyproject.toml Prefect would read for its settings)."""
    started = time.perf_counter()
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, check=False,
                          cwd=Path(env["RECORDS_HOME"]).parent)
    return time.perf_counter() - started, done


def make_archive(home: Path, env: dict[str, str]) -> str:
    """One small demo batch archived in *home*; returns a record id to show and verify."""
    _, done = run([records_binary(), "demo", "--letters", "1"], env)
    if done.returncode not in (0, 3):  # 3: the demo's broken files were quarantined
        raise SystemExit(f"records demo failed: {done.stderr[-2000:]}")
    _, found = run([records_binary(), "search", "*", "--json", "--limit", "1"], env)
    hits = json.loads(found.stdout or "{}").get("hits", [])
    if not hits:
        _, found = run([records_binary(), "search", "ngày", "--json", "--limit", "1"], env)
        hits = json.loads(found.stdout or "{}").get("hits", [])
    if not hits:
        raise SystemExit(f"the demo archived nothing to search for: {found.stderr[-500:]}")
    return hits[0]["record_id"]


def import_profile(args: Sequence[str], env: dict[str, str]) -> tuple[float, list[tuple[str,
                                                                                      float]]]:
    """Total import time of a command and its heaviest top-level packages (-X importtime)."""
    script = ("import sys; from records.cli import main; sys.argv = " + repr(["records", *args])
              + "; main()")
    _, done = run([sys.executable, "-X", "importtime", "-c", script], env)
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) == 1:  # top level: one space of indent
            name = match.group(3).split(".")[0]
            totals[name] = totals.get(name, 0.0) + int(match.group(1)) / 1e6
    heaviest = sorted(totals.items(), key=lambda kv: -kv[1])[:5]
    return sum(totals.values()), heaviest


def time_command(label: str, args: Sequence[str], env: dict[str, str], repeats: int) -> Timing:
    run([records_binary(), *args], env)  # warm the disk cache, untimed
    runs, code = [], 0
    for _ in range(repeats):
        seconds, done = run([records_binary(), *args], env)
        runs.append(seconds)
        code = done.returncode
    imports, heaviest = import_profile(args, env)
    return Timing(label, runs, imports, heaviest, code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
           "RECORDS_HOME": str(work / "home"), "RECORDS_CONFIG": "", "COLUMNS": "200",
           "PYTHONPATH": str(ROOT)}
    try:
        console.print(f"making a small archive in {work} ... (load average "
                      f"{machine_load():.2f})")
        record = make_archive(work / "home", env)
        base_runs = [run([sys.executable, "-c", "pass"], env)[0] for _ in range(args.repeats)]
        interpreter = statistics.median(base_runs)
        commands = {
            "records --help": ["--help"],
            "records status": ["status"],
            "records search": ["search", "ngày"],
            "records show": ["show", record],
            "records verify (one record)": ["verify", record],
        }
        timings = [time_command(label, command, env, args.repeats)
                   for label, command in commands.items()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [[t.command, f"{t.median:.3f}", f"{min(t.runs):.3f}", f"{t.imports:.3f}",
             ", ".join(f"{n} {s:.2f}" for n, s in t.heaviest), str(t.exit_code),
             verdict(t.median < GOAL_SECONDS)] for t in timings]
    console.print(make_table(
        f"start-up, median of {args.repeats} runs (the interpreter alone: {interpreter:.3f} s;"
        f" load average {machine_load():.2f})",
        ["command", "median s", "fastest s", "imports s", "heaviest imports (s)", "exit",
         f"< {GOAL_SECONDS} s"], rows))
    if args.json:
        payload = {"interpreter_seconds": interpreter, "goal_seconds": GOAL_SECONDS,
                   "commands": [{**asdict(t), "median": t.median} for t in timings]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
