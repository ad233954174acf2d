"""Scale bench: pages per minute with one and two workers, and the server path's overhead.

On one machine, with the same rendered scans in the same run: the queued batches drained by
one worker and by two, and one batch through `records queue` embedded and through the server.

Starts its own PostgreSQL (initdb in a temporary folder, as the postgres user when root), a
Prefect server on it (``records server start``), ``records deploy`` and ``records worker
start`` processes, each with its own folder and node name, as tests/cli/test_workers.py does.
Every measured run gets a fresh RECORDS_HOME (empty page cache, a copy of one development PKI)
and a fresh catalog database. Run from the project root:

    .venv/bin/python bench/scale.py [--pages 100] [--batch-pages 10]
        [--out bench/results/scale.json] [--workdir DIR] [--skip-workers] [--skip-overhead]
        [--configs abc] [--settle S] [--no-shim] [--timeout S] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# _machine_busy_seconds: the same /proc/stat reading CpuMeter uses, so "others' cores" means
# the same thing in every bench.
from common import (
    PrivatePostgres,
    Sampling,
    _machine_busy_seconds,
    console,
    descendants,
    fmt_num,
    make_table,
    private_postgres,
    snapshot,
    wait_for_quiet,
)

from archive.intake import BatchReport, Ledger
from archive.signing import init_dev_pki
from records.samples import render_batch

RECORDS = [sys.executable, "-m", "records.cli"]
POOL = "records"  # server.pool's default, which `records deploy` creates
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
BUSY = 0.25  # others' cores above this: wall times are not to be trusted (as bench/ocr.py)
PAGES_PER_LETTER = 1.75  # render_batch's mean: folders and TIFFs 2-3 pages, JPEG and PNG 1
CLK = os.sysconf("SC_CLK_TCK")

# Put first on the PYTHONPATH of workers that must recognise N pages at once (--no-shim: not).
SHIM = '''"""bench/scale.py: os.cpu_count() reports RECORDS_OCR__JOBS in this worker's processes.

flows.digitise sizes the flow's page thread pool with os.cpu_count() when it is imported, and
does not read ocr.jobs; without this a worker given RECORDS_OCR__JOBS=1 still recognises one
page per core.
"""
import os

_jobs = int(os.environ.get("RECORDS_OCR__JOBS") or 0)
if _jobs > 0:
    os.cpu_count = lambda: _jobs
'''


@dataclass(frozen=True)
class Config:
    """One way of draining the queued batches."""

    key: str
    label: str
    workers: int
    jobs: int  # RECORDS_OCR__JOBS of each worker; 0: one page per core


CONFIGS = (
    Config("a", "1 worker, pages on every core", 1, 0),
    Config("b", "2 workers, one page at a time each", 2, 1),
    Config("c", "2 workers, pages on every core each", 2, 0),
)


def progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without its records and Prefect settings: every process of
    the bench is told exactly what it needs, nothing leaks in from the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", RECORDS_OCR__LANGUAGES="eng", **extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- processes


def tree_seconds(roots: list[int]) -> float:
    """CPU seconds of the processes under *roots*, live ones and those they reaped."""
    table = snapshot()
    pids = {pid for root in roots for pid in descendants(table, root)}
    return sum(table[pid].ticks for pid in pids) / CLK


@dataclass
class TreeMeter:
    """Wall time, the CPU of the bench's processes and everybody else's over a timed part.

    common.CpuMeter counts children once they are reaped; here workers, the Prefect server
    and PostgreSQL (not even our child) run throughout, so their CPU is read from /proc.
    """

    roots: list[int]
    wall: float = 0.0
    cpu: float = 0.0
    machine: float = 0.0
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> TreeMeter:
        self._start = (time.perf_counter(), tree_seconds(self.roots), _machine_busy_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu, machine = self._start
        self.wall = time.perf_counter() - wall
        self.cpu = tree_seconds(self.roots) - cpu
        self.machine = _machine_busy_seconds() - machine

    @property
    def foreign_cores(self) -> float:
        return max(0.0, self.machine - self.cpu) / self.wall if self.wall else 0.0


@dataclass
class PageSampler(Sampling):
    """How many pages each watched process tree really recognises at once: its Tesseract
    processes, counted every *interval* s. Tells whether a page limit was honoured."""

    roots: list[int] = field(default_factory=list)
    interval: float = 1.0
    peaks: dict[int, int] = field(default_factory=dict)
    total: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def sample(self) -> None:
        table = snapshot()
        for root in list(self.roots):
            running = sum(table[p].comm == "tesseract" for p in descendants(table, root))
            self.peaks[root] = max(self.peaks.get(root, 0), running)
            self.total += running
        self.samples += 1

    @property
    def mean(self) -> float:
        """Pages in recognition at once, over all watched trees: cores kept busy by OCR."""
        return self.total / self.samples if self.samples else 0.0


def spawn(args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None,
          stdout: int | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own session: a Ctrl-C at the terminal reaches only the bench,
    which then stops its children in order (workers, server, PostgreSQL)."""
    with log.open("ab") as sink:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=stdout or sink,
                                stderr=sink if stdout else subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 30) -> None:
    """Ask a child to stop, then kill what is left of its tree (a flow run, Tesseracts),
    by pid and only when the pid is still the process we saw."""
    table = snapshot()
    family = {pid: table[pid].start for pid in descendants(table, process.pid)}
    if process.poll() is None:
        process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    now = snapshot()
    for pid, start in family.items():
        if pid != process.pid and pid in now and now[pid].start == start:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    process.wait()


@dataclass
class CliRun:
    code: int
    stdout: str
    seconds: float


def run_cli(args: list[str], env: dict[str, str], log: Path, timeout: float = 300,
            on_start: Callable[[int], None] | None = None) -> CliRun:
    """One `records` command, timed from launch to exit; its tree is killed on any error
    (an embedded run has its own Prefect server and Tesseracts under it)."""
    started = time.perf_counter()
    process = spawn([*RECORDS, *args], env, log, stdout=subprocess.PIPE)
    if on_start:
        on_start(process.pid)
    try:
        out, _ = process.communicate(timeout=timeout)
    except BaseException:
        stop(process, signal.SIGKILL, 0)
        raise
    return CliRun(process.returncode, out.decode("utf-8", "replace"),
                  time.perf_counter() - started)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- PostgreSQL


def new_database(pg: PrivatePostgres, name: str, driver: str = "psycopg") -> str:
    """A new database on the bench's server; its SQLAlchemy URL."""
    pg.createdb(name)
    return pg.url(name, driver)


# --------------------------------------------------------------------------- Prefect


class PrefectApi:
    """The few REST calls the bench needs. Not Prefect's client: importing Prefect costs
    seconds of CPU, and `records status` a whole process per poll, on the cores measured."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def healthy(self) -> bool:
        try:
            self.call("GET", "/health")
            return True
        except OSError:
            return False

    def hold(self, held: bool) -> None:
        """Pause or resume the pool's work queues: workers take no run from a paused queue
        (in this Prefect a paused *pool* still hands runs out), so the batches can be queued
        and the workers started before the clock starts."""
        for queue in self.call("POST", f"/work_pools/{POOL}/queues/filter", {}):
            self.call("PATCH", f"/work_pools/{POOL}/queues/{queue['name']}",
                      {"is_paused": held})

    def online(self) -> set[str]:
        found = self.call("POST", f"/work_pools/{POOL}/workers/filter", {})
        return {w["name"] for w in found if w.get("status") == "ONLINE"}

    def flow_runs(self, ids: list[str]) -> list[dict[str, Any]]:
        return self.call("POST", "/flow_runs/filter",
                         {"flow_runs": {"id": {"any_": ids}}, "limit": 200})

    def delete_runs(self, ids: list[str]) -> None:
        """Free the idempotency keys (the scans' hashes): the next configuration queues the
        same scans, which would otherwise be 'already done'."""
        for run in ids:
            with contextlib.suppress(urllib.error.HTTPError):
                self.call("DELETE", f"/flow_runs/{run}")

    def pause_schedules(self) -> None:
        """Pause the nightly fixity audit and the weekly report: a run at 02:00 or on Monday
        morning would take a worker in the middle of a measurement."""
        for deployment in self.call("POST", "/deployments/filter", {}):
            if deployment["name"] != "digitise":
                self.call("POST", f"/deployments/{deployment['id']}/pause_deployment")


@contextlib.contextmanager
def prefect_server(pg: PrivatePostgres, work: Path) -> Iterator[tuple[PrefectApi, int]]:
    """`records server start` with Prefect's database on the private PostgreSQL."""
    database = new_database(pg, "prefect", driver="asyncpg")
    port = free_port()
    env = clean_env(RECORDS_HOME=str(work / "server-home"),
                    PREFECT_API_DATABASE_CONNECTION_URL=database)
    process = spawn([*RECORDS, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    env, work / "logs" / "server.log")
    api = PrefectApi(f"http://127.0.0.1:{port}/api")
    try:
        deadline = time.monotonic() + 300
        while not api.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Prefect server did not start:\n"
                                   + tail(work / "logs" / "server.log"))
            time.sleep(1)
        yield api, process.pid
    finally:
        stop(process, signal.SIGINT, 30)


# --------------------------------------------------------------------------- scans


@dataclass(frozen=True)
class Batch:
    path: Path
    pages: int
    documents: int


@dataclass(frozen=True)
class Scans:
    whole: Batch  # every page in one batch: the overhead comparison
    batches: list[Batch]  # the same records split: what the workers drain
    seconds: float


def render_scans(dest: Path, pages: int) -> list[tuple[Path, int]]:
    """English letters rendered at 300 dpi by the project's own sample code (folders of
    PNGs, G4 TIFFs, JPEGs, PNGs; some turned, skewed, noisy), records cut at *pages* pages."""
    letters = max(1, round(pages / PAGES_PER_LETTER))
    while True:
        shutil.rmtree(dest, ignore_errors=True)
        rendered = render_batch(dest, letters=letters, seed=11, languages=("eng",))
        if sum(len(truth.pages) for _, truth in rendered) >= pages:
            break
        letters += 2
    kept: list[tuple[Path, int]] = []
    for path, truth in rendered:
        if sum(n for _, n in kept) < pages:
            kept.append((path, len(truth.pages)))
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    write_manifest(dest / "manifest.csv", dest, {p.name for p, _ in kept})
    return kept


def write_manifest(source: Path, dest: Path, names: set[str]) -> None:
    """The rows of *source*'s manifest naming *names*, as dest/manifest.csv."""
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames or [], [r for r in reader if r["source"] in names]
    with (dest / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def split(records: list[tuple[Path, int]], whole: Path, dest: Path, size: int) -> list[Batch]:
    """Consecutive records into batches of at least *size* pages (records stay whole), as
    hard links: the same bytes as the whole batch, so both parts recognise the same pages."""
    groups: list[list[tuple[Path, int]]] = [[]]
    for record in records:
        if sum(n for _, n in groups[-1]) >= size:
            groups.append([])
        groups[-1].append(record)
    made = []
    for number, group in enumerate(groups, 1):
        folder = dest / f"batch-{number:02d}"
        folder.mkdir(parents=True)
        for path, _ in group:
            if path.is_dir():
                shutil.copytree(path, folder / path.name, copy_function=os.link)
            else:
                os.link(path, folder / path.name)
        write_manifest(whole / "manifest.csv", folder, {p.name for p, _ in group})
        made.append(Batch(folder, sum(n for _, n in group), len(group)))
    return made


def prepare_scans(work: Path, pages: int, batch_pages: int) -> Scans:
    started = time.perf_counter()
    whole = work / "scans" / "whole"
    records = render_scans(whole, pages)
    parts = split(records, whole, work / "scans" / "batches", batch_pages)
    return Scans(Batch(whole, sum(n for _, n in records), len(records)), parts,
                 time.perf_counter() - started)


# --------------------------------------------------------------------------- one run


@dataclass
class Bench:
    """What every measured run shares: folders, PostgreSQL, the server, the options."""

    work: Path
    pg: PrivatePostgres
    api: PrefectApi
    server_pid: int
    keys: Path
    settle: float
    shim: bool
    timeout: float
    runs: int = 0

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def fresh(self, name: str) -> dict[str, str]:
        """A new RECORDS_HOME (empty page cache, the development PKI) and catalog database:
        nothing a previous run recognised or indexed is found again."""
        self.runs += 1
        home = self.work / f"home-{self.runs:02d}-{name}"
        shutil.copytree(self.keys, home / "keys")
        catalog = new_database(self.pg, f"catalog_{self.runs:02d}")
        return {"RECORDS_HOME": str(home), "RECORDS_CATALOG__URL": catalog}

    def client_env(self, setup: dict[str, str]) -> dict[str, str]:
        """What `records queue` and `records deploy` are run with on the server path."""
        return clean_env(**setup, PREFECT_API_URL=self.api.url,
                         PREFECT_HOME=str(self.work / "client-prefect"))

    def quiet(self) -> None:
        if self.settle > 0:
            load = wait_for_quiet(self.settle)
            progress(f"others' cores before the timed part: {load:.2f}")

    def roots(self, extra: list[int]) -> list[int]:
        return [os.getpid(), self.pg.pid, *extra]


def start_workers(bench: Bench, config: Config, setup: dict[str, str],
                  stack: contextlib.ExitStack) -> list[subprocess.Popen[bytes]]:
    """`records worker start` per worker, each in its own folder (its machine), one batch at
    a time; stopped when *stack* closes, whatever happens."""
    workers = []
    for number in range(1, config.workers + 1):
        node = f"{config.key}-w{number}"
        folder = bench.work / "machines" / node
        folder.mkdir(parents=True)
        env = {**bench.client_env(setup), "RECORDS_SERVER__NODE": node,
               "PREFECT_HOME": str(folder / "prefect"), "PREFECT_WORKER_QUERY_SECONDS": "1",
               "RECORDS_SERVER__BATCHES_PER_WORKER": "1"}
        if config.jobs:
            env["RECORDS_OCR__JOBS"] = str(config.jobs)
            if bench.shim:
                env["PYTHONPATH"] = str(bench.work / "shim")
        process = spawn([*RECORDS, "worker", "start"], env, bench.logs / f"worker-{node}.log",
                        cwd=folder)
        stack.callback(stop, process)
        workers.append(process)
    return workers


def wait_online(bench: Bench, nodes: list[str], workers: list[subprocess.Popen[bytes]]) -> None:
    """Until the server has heard from every worker (`records worker start` names them
    records-NODE): the clock must not start with a worker still importing Prefect."""
    deadline = time.monotonic() + 300
    while not {f"records-{node}" for node in nodes} <= bench.api.online():
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            raise RuntimeError(f"workers {nodes} not online; log of {nodes[0]}:\n"
                               + tail(bench.logs / f"worker-{nodes[0]}.log"))
        time.sleep(1)


def queue(bench: Bench, setup: dict[str, str], batch: Batch) -> dict[str, str]:
    """`records queue BATCH --json` on the server: returns at once with the flow run."""
    done = run_cli(["queue", str(batch.path), "--unit", "BENCH", "--json"],
                   bench.client_env(setup), bench.logs / "queue.log")
    if done.code != 0:
        raise RuntimeError(f"records queue {batch.path.name} failed ({done.code}):\n"
                           + tail(bench.logs / "queue.log"))
    submitted = json.loads(done.stdout)
    if submitted["outcome"] != "queued":
        raise RuntimeError(f"{batch.path.name}: {submitted['outcome']}, not queued afresh")
    return submitted


def when(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def drain(bench: Bench, runs: list[str], workers: list[subprocess.Popen[bytes]]
          ) -> tuple[float, float, list[dict[str, Any]]]:
    """Resume the queues and wait until every run is final. The wall time runs from the
    resume to the server's end time of the last run (not to our next poll)."""
    started = time.time()
    bench.api.hold(False)
    deadline = time.monotonic() + bench.timeout
    while True:
        found = bench.api.flow_runs(runs)
        if len(found) == len(runs) and all(r["state_type"] in FINAL for r in found):
            break
        if any(w.poll() is not None for w in workers):
            raise RuntimeError("a worker exited during the run")
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs not final after {bench.timeout:.0f} s: "
                               f"{sorted(r['state_type'] for r in found)}")
        time.sleep(1)
    ends = [when(r.get("end_time")) for r in found]
    end = max((e for e in ends if e is not None), default=time.time())
    return started, end - started, found


def ledgers(home: str) -> dict[str, BatchReport]:
    return {r.batch_id: r for r in Ledger(Path(home)).find()}


def outcome(reports: list[BatchReport]) -> dict[str, Any]:
    """Pages and documents the runs really processed, from the batch ledgers."""
    docs = [d for r in reports for d in r.documents]
    return {"pages": sum(d.pages for d in docs), "documents": len(docs),
            "archived": sum(d.status == "archived" for d in docs),
            "not_archived": [f"{d.source}: {d.status} {d.reason or ''}".strip()
                             for d in docs if d.status != "archived"]}


def run_config(bench: Bench, config: Config, scans: Scans) -> dict[str, Any]:
    """Queue every batch with the queues paused, start the workers, then time the drain."""
    progress(f"({config.key}) {config.label}: queueing {len(scans.batches)} batches ...")
    setup = bench.fresh(config.key)
    bench.api.hold(True)
    runs: list[str] = []
    with contextlib.ExitStack() as stack:
        stack.callback(bench.api.delete_runs, runs)  # after the workers have stopped
        workers = start_workers(bench, config, setup, stack)
        runs += [queue(bench, setup, b)["flow_run"] for b in scans.batches]
        wait_online(bench, [f"{config.key}-w{n}" for n in range(1, config.workers + 1)],
                    workers)
        bench.quiet()
        progress(f"({config.key}) {config.workers} worker(s) online; draining ...")
        with TreeMeter(bench.roots([bench.server_pid])) as meter, \
                PageSampler([w.pid for w in workers]) as pages:
            started, wall, found = drain(bench, runs, workers)
    return summarise(config, setup, started, wall, found, meter, pages, workers,
                     bench.shim and config.jobs > 0)


def summarise(config: Config, setup: dict[str, str], started: float, wall: float,
              found: list[dict[str, Any]], meter: TreeMeter, pages: PageSampler,
              workers: list[subprocess.Popen[bytes]], shim: bool) -> dict[str, Any]:
    """One configuration's figures, with what each run did and where (for the reading)."""
    reports = ledgers(setup["RECORDS_HOME"])
    done = outcome(list(reports.values()))
    per_run = []
    for run in sorted(found, key=lambda r: r.get("start_time") or ""):
        report = reports.get(run["parameters"].get("batch_id", ""))
        per_run.append({"batch": report.batch_id if report else None,
                        "node": report.host if report else None, "state": run["state_type"],
                        "pages": report.pages_total if report else 0,
                        "start": round((when(run.get("start_time")) or started) - started, 1),
                        "end": round((when(run.get("end_time")) or started) - started, 1)})
    nodes: dict[str, int] = {}
    for run in per_run:
        nodes[str(run["node"])] = nodes.get(str(run["node"]), 0) + 1
    gaps = startup_gaps(per_run)
    return {
        "key": config.key, "label": config.label, "workers": config.workers,
        "page_jobs": config.jobs or os.cpu_count() or 1, "jobs_setting": config.jobs,
        "jobs_shim": shim,
        **done, "wall_seconds": round(wall, 1),
        "pages_per_minute": round(done["pages"] * 60 / wall, 1) if wall else None,
        "cpu_seconds": round(meter.cpu, 1),
        "cpu_seconds_per_page": round(meter.cpu / done["pages"], 2) if done["pages"] else None,
        "foreign_cores": round(meter.foreign_cores, 2),
        "pages_at_once_max": [pages.peaks.get(w.pid, 0) for w in workers],
        "pages_at_once_mean": round(pages.mean, 2),
        "batches_per_worker": nodes,
        "batch_startup_seconds_mean": round(sum(gaps) / len(gaps), 1) if gaps else None,
        "completed": all(r["state_type"] == "COMPLETED" for r in found),
        "runs": per_run,
    }


def startup_gaps(runs: list[dict[str, Any]]) -> list[float]:
    """Seconds each worker spent between batches with no flow running: picking the run up
    and starting its process (Python, Prefect, records imported afresh for every batch).
    The first batch's gap counts from the resume."""
    gaps: list[float] = []
    last_end: dict[Any, float] = {}
    for run in runs:  # in start order
        gaps.append(run["start"] - last_end.get(run["node"], 0.0))
        last_end[run["node"]] = run["end"]
    return gaps


# --------------------------------------------------------------------------- overhead


def flow_seconds(home: str) -> float | None:
    """The flow's own time from its ledger (1 s resolution): the same clock on both paths."""
    found = Ledger(Path(home)).find()
    if not found or not found[0].finished:
        return None
    return (datetime.fromisoformat(found[0].finished)
            - datetime.fromisoformat(found[0].started)).total_seconds()


def timed_queue(bench: Bench, args: list[str], env: dict[str, str], log: Path,
                worker: int | None = None) -> dict[str, Any]:
    """`records queue ...` timed from launch to exit, with its CPU, others' CPU and how many
    pages were recognised at once (under the command, or under the *worker* running it)."""
    bench.quiet()
    extra = [bench.server_pid, worker] if worker else []
    with TreeMeter(bench.roots(extra)) as meter, PageSampler([worker] if worker else []) as pages:
        done = run_cli(args, env, log, timeout=bench.timeout,
                       on_start=None if worker else pages.roots.append)
    if done.code not in (0, 3):
        raise RuntimeError(f"records {' '.join(args)} failed ({done.code}):\n{tail(log)}")
    documents = json.loads(done.stdout)["documents"]
    return {"exit_code": done.code, "wall_seconds": round(done.seconds, 1),
            "archived": sum(d["status"] == "archived" for d in documents),
            "documents": len(documents), "cpu_seconds": round(meter.cpu, 1),
            "foreign_cores": round(meter.foreign_cores, 2),
            "pages_at_once_mean": round(pages.mean, 2)}


def overhead_embedded(bench: Bench, batch: Batch) -> dict[str, Any]:
    """`records queue BATCH` with PREFECT_API_URL unset: the flow runs in the command's
    process, with Prefect's embedded server."""
    progress(f"overhead: embedded `records queue` of {batch.pages} pages ...")
    setup = bench.fresh("embedded")
    env = clean_env(**setup)
    first_use = embedded_database(env, Path(setup["RECORDS_HOME"]), bench.logs / "embedded.log")
    figures = timed_queue(bench, ["queue", str(batch.path), "--unit", "BENCH", "--json"], env,
                          bench.logs / "embedded.log")
    return {**figures, "flow_seconds": flow_seconds(setup["RECORDS_HOME"]),
            "first_use_seconds": round(first_use, 1)}


def embedded_database(env: dict[str, str], home: Path, log: Path) -> float:
    """Make the embedded run's Prefect database (RECORDS_HOME/prefect, where
    runtime.prepare points Prefect) untimed: a fresh home is needed for an empty page
    cache, but an office's records home already has this database; creating it (Prefect's
    migrations) is a first-use cost, returned to be reported apart."""
    started = time.perf_counter()
    with log.open("ab") as sink:
        subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                       env={**env, "PREFECT_HOME": str(home / "prefect")}, stdout=sink,
                       stderr=subprocess.STDOUT, check=True, timeout=600)
    return time.perf_counter() - started


def overhead_server(bench: Bench, batch: Batch) -> dict[str, Any]:
    """`records queue BATCH --wait` through the server, one worker already online: the
    submission, the worker's pick-up, the flow run's own process and the follow-up poll."""
    progress(f"overhead: `records queue --wait` of {batch.pages} pages via 1 worker ...")
    setup = bench.fresh("server")
    config = Config("o", "overhead", 1, 0)
    with contextlib.ExitStack() as stack:
        workers = start_workers(bench, config, setup, stack)
        wait_online(bench, ["o-w1"], workers)
        bench.api.hold(False)
        figures = timed_queue(bench, ["queue", str(batch.path), "--unit", "BENCH", "--wait",
                                      "--json"], bench.client_env(setup),
                              bench.logs / "server-queue.log", worker=workers[0].pid)
        found = Ledger(Path(setup["RECORDS_HOME"])).find()
        if found and found[0].flow_run:
            stack.callback(bench.api.delete_runs, [found[0].flow_run])
    return {**figures, "flow_seconds": flow_seconds(setup["RECORDS_HOME"])}


def overhead(bench: Bench, batch: Batch) -> dict[str, Any]:
    embedded = overhead_embedded(bench, batch)
    server = overhead_server(bench, batch)
    for side in (embedded, server):
        side["pages_per_minute"] = round(batch.pages * 60 / side["wall_seconds"], 1)
    return {"pages": batch.pages, "documents": batch.documents, "embedded": embedded,
            "server": server,
            "difference_seconds": round(server["wall_seconds"] - embedded["wall_seconds"], 1),
            "ratio": round(server["wall_seconds"] / embedded["wall_seconds"], 2)}


# --------------------------------------------------------------------------- report


def others(value: float) -> str:
    return f"[red]{value:.2f}[/red]" if value > BUSY else f"{value:.2f}"


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Pages per minute of each configuration over (a)'s, when (a) was measured."""
    base = next((r for r in rows if r.get("key") == "a" and r.get("pages_per_minute")), None)
    for row in rows:
        if base and row.get("pages_per_minute"):
            row["ratio_to_1_worker"] = round(row["pages_per_minute"] / base["pages_per_minute"], 2)


def workers_table(rows: list[dict[str, Any]], scans: Scans) -> None:
    body = []
    for row in rows:
        if "error" in row:
            body.append([f"({row['key']}) {row['label']}", "[red]failed[/red]", row["error"][:60],
                         *["-"] * 8])
            continue
        body.append([f"({row['key']}) {row['label']}", str(row["workers"]), str(row["page_jobs"]),
                     "/".join(map(str, row["pages_at_once_max"])),
                     f"{row['pages']} ({row['archived']}/{row['documents']} docs)",
                     f"{row['wall_seconds']:.0f} s", fmt_num(row["pages_per_minute"]),
                     fmt_num(row.get("ratio_to_1_worker"), 2),
                     fmt_num(row["batch_startup_seconds_mean"]),
                     fmt_num(row["cpu_seconds_per_page"], 2), others(row["foreign_cores"])])
    console.print(make_table(
        f"workers draining {scans.whole.pages} pages in {len(scans.batches)} batches",
        ["configuration", "workers", "page jobs", "pages at once (max/worker)", "pages",
         "wall", "pages/min", "x 1 worker", "batch start-up s", "CPU s/page", "others' cores"],
        body))


def overhead_table(result: dict[str, Any]) -> None:
    rows = [[name, f"{side['wall_seconds']:.1f} s", fmt_num(side["flow_seconds"], 0),
             fmt_num(side["pages_per_minute"]), f"{side['archived']}/{side['documents']}",
             fmt_num(side["cpu_seconds"]), others(side["foreign_cores"])]
            for name, side in (("embedded (`records queue`)", result["embedded"]),
                               ("server, 1 worker (`--wait`)", result["server"]))]
    rows.append(["server - embedded", f"{result['difference_seconds']:+.1f} s", "", "", "", "",
                 f"x {result['ratio']:.2f}"])
    rows.append(["(embedded, first use: + Prefect database)",
                 f"+{result['embedded']['first_use_seconds']:.1f} s", "", "", "", "", ""])
    console.print(make_table(f"one {result['pages']}-page batch: embedded and server path",
                             ["path", "wall", "flow s (ledger)", "pages/min", "archived",
                              "CPU s", "others' cores"], rows))


def environment(pg: str | None = None) -> dict[str, Any]:
    tesseract = subprocess.run(["tesseract", "--version"], capture_output=True, text=True,
                               check=False).stdout.splitlines()
    with open("/proc/meminfo", encoding="ascii") as handle:
        memory = int(handle.readline().split()[1]) * 1024
    return {"cpu_count": os.cpu_count(), "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "memory_bytes": memory,
            "tesseract": tesseract[0] if tesseract else None, "postgresql": pg,
            "versions": {n: version(n) for n in ("prefect", "sqlalchemy", "psycopg")},
            "load_average_1min": round(os.getloadavg()[0], 2)}


# --------------------------------------------------------------------------- main


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="pages rendered (at least)")
    parser.add_argument("--batch-pages", type=int, default=10,
                        help="pages per batch the workers drain (records stay whole)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="make the temporary folder here (default: the system's)")
    parser.add_argument("--configs", default="abc",
                        help="worker configurations to run, of a, b, c (see README)")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="wait up to S s for a quiet machine before each timed part")
    parser.add_argument("--no-shim", action="store_true",
                        help="limit (b)'s workers by RECORDS_OCR__JOBS=1 alone (see README)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a timed part may take (default 600 + 30 per page)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.timeout = args.timeout or 600 + 30 * args.pages
    return args


def setup(work: Path, pg: PrivatePostgres, api: PrefectApi, server_pid: int,
          args: argparse.Namespace) -> Bench:
    """One development PKI for every run, the deployments, the shim, no schedules."""
    keys = init_dev_pki(work / "pki", service_url=f"http://127.0.0.1:{free_port()}").folder
    (work / "shim").mkdir()
    (work / "shim" / "sitecustomize.py").write_text(SHIM, encoding="utf-8")
    bench = Bench(work, pg, api, server_pid, keys, args.settle, not args.no_shim, args.timeout)
    deployed = run_cli(["deploy"], bench.client_env({"RECORDS_HOME": str(work / "client")}),
                       bench.logs / "deploy.log")
    if deployed.code != 0:
        raise RuntimeError(f"records deploy failed:\n{tail(bench.logs / 'deploy.log')}")
    api.pause_schedules()
    return bench


def measure(bench: Bench, scans: Scans, args: argparse.Namespace,
            results: dict[str, Any]) -> None:
    """Every configuration, then the overhead; a failed part is reported and the rest run."""
    if not args.skip_workers:
        results["workers"] = []
        for config in (c for c in CONFIGS if c.key in args.configs):
            try:
                results["workers"].append(run_config(bench, config, scans))
            except Exception as exc:
                console.print(f"[red]({config.key}) failed:[/red] {exc}")
                show_logs(sorted(bench.logs.glob(f"worker-{config.key}-*.log")))
                results["workers"].append({"key": config.key, "label": config.label,
                                           "error": str(exc)})
        add_ratios(results["workers"])
    if not args.skip_overhead:
        try:
            results["overhead"] = overhead(bench, scans.whole)
        except Exception as exc:
            console.print(f"[red]overhead failed:[/red] {exc}")
            show_logs(sorted(bench.logs.glob("worker-o-*.log")))
            results["overhead"] = {"error": str(exc)}


def show_logs(logs: list[Path]) -> None:
    """The end of each log, printed: the temporary folder goes away unless --keep."""
    for log in logs:
        console.print(f"--- {log.name}", markup=False)
        console.print(tail(log, 15), markup=False, highlight=False)


def on_terminate(signum: int, _frame: object) -> None:
    """`kill` or timeout(1) stops the bench as Ctrl-C does: through the clean-up, so no
    worker, server or PostgreSQL is left running."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, on_terminate)
    args = arguments()
    results: dict[str, Any] = {"arguments": {k: str(v) if isinstance(v, Path) else v
                                             for k, v in vars(args).items()}}
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="records-scale-", dir=args.workdir))
        if not args.keep:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        (work / "logs").mkdir()
        progress(f"rendering {args.pages} pages into {work} ...")
        scans = prepare_scans(work, args.pages, args.batch_pages)
        progress(f"{scans.whole.pages} pages, {scans.whole.documents} records, "
                 f"{len(scans.batches)} batches, in {scans.seconds:.0f} s")
        pg = stack.enter_context(private_postgres("records-scale-pg-"))
        results["environment"] = environment(pg.version)
        api, server_pid = stack.enter_context(prefect_server(pg, work))
        bench = setup(work, pg, api, server_pid, args)
        progress("server up, deployed; measuring")
        measure(bench, scans, args, results)
    results["environment"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    results["input"] = {"pages": scans.whole.pages, "documents": scans.whole.documents,
                        "dpi": 300, "languages": "eng", "render_seconds": round(scans.seconds),
                        "batches": [{**asdict(b), "path": b.path.name} for b in scans.batches]}
    report(results, scans, args.out)


def report(results: dict[str, Any], scans: Scans, out: Path) -> None:
    env = results["environment"]
    console.print(f"{env['cpu_count']} cores, {env['tesseract']}, Prefect "
                  f"{env['versions']['prefect']}, {env['postgresql']}; load "
                  f"{env['load_average_1min']} -> {env['load_average_1min_after']}")
    if "workers" in results:
        workers_table(results["workers"], scans)
    if "overhead" in results and "error" not in results["overhead"]:
        overhead_table(results["overhead"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
