"""Prefect server load: how many task runs a second one server on PostgreSQL takes, and its
CPU per task run; then where a fleet of workers would saturate it.

A batch is one flow run with a task per page and a few per document, so a department's fleet
asks the server for task runs at the rate it recognises pages. This bench starts a private
PostgreSQL and a Prefect server on it (``records server start``, as bench/scale.py does), then
runs clients that each run one flow of ``--tasks`` trivial tasks (``--threads`` at a time, the
task runner the batch flow uses), with 1, 2 and 4 clients at once. Task runs are reported as
events and recorded by the server after the fact, so the server's CPU (and PostgreSQL's) is
counted until both are idle again. Then a small simulation: workers of ``--cores`` cores at
``--ppm-per-core`` pages a minute each, ``--tasks-per-page`` task runs a page, against a
server of ``--server-cores`` cores at the measured CPU per task run. Run from the project root:

    .venv/bin/python bench/prefect_load.py [--tasks 300] [--threads 8] [--clients 1,2,4]
                                           [--json bench/results/prefect-load.json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import console, make_table, private_postgres
from scale import PrefectApi, clean_env, prefect_server, tree_seconds

CLIENT = '''
import sys, time
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

@task
def page(number: int) -> int:
    return number

@flow(task_runner=ThreadPoolTaskRunner(max_workers=int(sys.argv[2])))
def batch(tasks: int) -> None:
    for future in page.map(range(tasks)):
        future.result()

started = time.perf_counter()
batch(int(sys.argv[1]))
print(time.perf_counter() - started)
'''


@dataclass
class Round:
    """Clients running at once, and what the server did for them."""

    clients: int
    task_runs: int  # recorded by the server
    wall: float  # from the first client's start to the last one's end
    settled: float  # until the server and PostgreSQL were idle again
    server_cpu: float  # CPU seconds of the Prefect server's processes, its idle use taken off
    database_cpu: float  # of PostgreSQL's, likewise
    client_cpu: float
    idle_cores: tuple[float, float]  # what the server and PostgreSQL use doing nothing

    @property
    def per_second(self) -> float:
        """As the clients saw it: task runs over the time they ran."""
        return self.task_runs / self.wall if self.wall else 0.0

    @property
    def cpu_ms_per_run(self) -> float:
        """Server and database CPU per task run: what a bigger fleet adds to the server."""
        total = self.server_cpu + self.database_cpu
        return 1000 * total / self.task_runs if self.task_runs else 0.0


def task_runs(api: PrefectApi) -> int:
    return int(api.call("POST", "/task_runs/count", {}))


def settle(roots: list[int], quiet: float = 0.05, window: float = 2.0, limit: float = 120.0
           ) -> float:
    """Wait until *roots* use less than *quiet* cores over *window* s; the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = tree_seconds(roots)
        time.sleep(window)
        if (tree_seconds(roots) - before) / window < quiet:
            break
    return time.perf_counter() - started


def run_round(api: PrefectApi, server_pid: int, pg_pid: int, clients: int, args: argparse.Namespace,
              work: Path) -> Round:
    script = work / "client.py"
    script.write_text(CLIENT, encoding="utf-8")
    idle = idle_cores([server_pid]), idle_cores([pg_pid])
    before_runs = task_runs(api)
    server0, pg0 = tree_seconds([server_pid]), tree_seconds([pg_pid])
    started = time.perf_counter()
    processes = []
    for index in range(clients):
        env = clean_env(PREFECT_API_URL=api.url, PREFECT_HOME=str(work / f"client-{index}"),
                        PREFECT_LOGGING_LEVEL="WARNING")
        processes.append(subprocess.Popen([sys.executable, str(script), str(args.tasks),
                                           str(args.threads)], env=env, cwd=work,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    client_cpu = 0.0
    for process in processes:
        _out, err = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"a client failed: {err.decode()[-2000:]}")
    wall = time.perf_counter() - started
    client_cpu = _children_cpu()
    settled = wall + settle([server_pid, pg_pid])
    server = tree_seconds([server_pid]) - server0 - idle[0] * settled
    database = tree_seconds([pg_pid]) - pg0 - idle[1] * settled
    return Round(clients, task_runs(api) - before_runs, wall, settled, max(0.0, server),
                 max(0.0, database), client_cpu, idle)


def idle_cores(roots: list[int], window: float = 5.0) -> float:
    """Cores *roots* keep busy doing nothing (the server's loops): taken off a round's CPU."""
    before = tree_seconds(roots)
    time.sleep(window)
    return (tree_seconds(roots) - before) / window


_SEEN_CHILDREN = [0.0]


def _children_cpu() -> float:
    """CPU of the clients just reaped (getrusage of children, less what earlier rounds had)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    spent, _SEEN_CHILDREN[0] = total - _SEEN_CHILDREN[0], total
    return spent


# --------------------------------------------------------------------------- the model


@dataclass
class Fleet:
    workers: int
    task_runs_per_second: float
    utilisation: float  # of the server's cores
    mean_wait_ms: float  # simulated: a task run's report waiting for the server
    p99_wait_ms: float


def simulate(rate: float, service: float, servers: int, seconds: float = 60.0,
             seed: int = 1) -> tuple[float, float]:
    """A queue of task-run reports in front of *servers* cores taking *service* s each:
    Poisson arrivals at *rate* a second, exponential service. Mean and p99 wait (s)."""
    rng = random.Random(seed)
    free = [0.0] * servers
    waits, now = [], 0.0
    while now < seconds and len(waits) < 400_000:
        now += rng.expovariate(rate)
        core = min(range(servers), key=free.__getitem__)
        begin = max(now, free[core])
        free[core] = begin + rng.expovariate(1 / service)
        waits.append(begin - now)
    waits.sort()
    return sum(waits) / len(waits), waits[int(0.99 * (len(waits) - 1))]


def fleet(workers: int, cpu_per_run: float, args: argparse.Namespace) -> Fleet:
    rate = workers * args.cores * args.ppm_per_core / 60 * args.tasks_per_page
    utilisation = rate * cpu_per_run / args.server_cores
    if utilisation >= 1:
        return Fleet(workers, rate, utilisation, float("inf"), float("inf"))
    mean, p99 = simulate(rate, cpu_per_run, args.server_cores)
    return Fleet(workers, rate, utilisation, 1000 * mean, 1000 * p99)


DESIGNS = (
    ("today: a task per page, validate and archive per document", 1, None),
    ("one task per document (its pages recognised inside it)", 1, 1 / 1.75),
    ("today's tasks, 4 server processes (API workers and services, Redis)", 4, None),
    ("one task per document, 4 server processes", 4, 1 / 1.75),
)


def saturation_table(cost: float, args: argparse.Namespace) -> list[dict[str, float | str]]:
    """Where a fleet of the modelled workers saturates the server, by task granularity and
    server processes (at the measured CPU per task run; 1.75 pages a document)."""
    rows = []
    for label, processes, per_page in DESIGNS:
        runs = per_page or args.tasks_per_page
        workers = processes / (cost * args.cores * args.ppm_per_core / 60 * runs)
        rows.append({"design": label, "server_processes": processes,
                     "task_runs_per_page": runs, "saturating_workers": workers})
    console.print(make_table(
        "where the server saturates, by design", ["design", "server processes",
                                                  "task runs a page", "workers at 100%"],
        [[str(r["design"]), str(r["server_processes"]), f"{r['task_runs_per_page']:.2f}",
          f"{r['saturating_workers']:.0f}"] for r in rows]))
    return rows


# --------------------------------------------------------------------------- driving


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300, help="task runs per client's flow")
    parser.add_argument("--threads", type=int, default=8, help="tasks at once in each flow")
    parser.add_argument("--clients", default="1,2,4")
    parser.add_argument("--cores", type=int, default=8, help="cores of a modelled worker")
    parser.add_argument("--ppm-per-core", type=float, default=16.0)
    parser.add_argument("--tasks-per-page", type=float, default=2.1,
                        help="task runs a page (a page task, and validate and archive per "
                             "document of 1.75 pages: bench/scale.py's letters)")
    parser.add_argument("--server-cores", type=int, default=1,
                        help="cores the server can use: 1 for `prefect server start` (one "
                             "Python process serves the API and records the task runs)")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    (work / "logs").mkdir()
    rounds = []
    with private_postgres("records-bench-prefect-", {"max_connections": "200"}) as pg, \
            prefect_server(pg, work) as (api, server_pid):
        settle([server_pid, pg.pid])
        for clients in (int(c) for c in args.clients.split(",")):
            console.print(f"{clients} client(s) x {args.tasks} task runs ...")
            rounds.append(run_round(api, server_pid, pg.pid, clients, args, work))
    console.print(make_table(
        f"one Prefect server on PostgreSQL ({pg.version}), 2 cores shared with the clients",
        ["clients", "task runs", "wall s", "until idle s", "task runs/s", "server CPU s",
         "PostgreSQL CPU s", "clients' CPU s", "server+db CPU ms per task run",
         "idle cores (server, db)"],
        [[str(r.clients), str(r.task_runs), f"{r.wall:.1f}", f"{r.settled:.1f}",
          f"{r.per_second:.1f}", f"{r.server_cpu:.1f}", f"{r.database_cpu:.1f}",
          f"{r.client_cpu:.1f}", f"{r.cpu_ms_per_run:.1f}",
          f"{r.idle_cores[0]:.2f}, {r.idle_cores[1]:.2f}"] for r in rounds]))
    cost = max(r.cpu_ms_per_run for r in rounds) / 1000
    fleets = [fleet(w, cost, args) for w in (1, 5, 10, 25, 50, 100, 200)]
    limit = args.server_cores / (cost * args.cores * args.ppm_per_core / 60 * args.tasks_per_page)
    console.print(make_table(
        f"a fleet against one server of {args.server_cores} cores at {1000 * cost:.1f} ms of "
        f"CPU a task run ({args.cores}-core workers, {args.ppm_per_core:g} pages/min a core, "
        f"{args.tasks_per_page:g} task runs a page): saturated at {limit:.0f} workers",
        ["workers", "task runs/s", "server busy", "mean wait ms", "p99 wait ms"],
        [[str(f.workers), f"{f.task_runs_per_second:.0f}", f"{100 * f.utilisation:.0f}%",
          f"{f.mean_wait_ms:.1f}", f"{f.p99_wait_ms:.1f}"] for f in fleets]))
    designs = saturation_table(cost, args)
    if args.json:
        args.json.write_text(json.dumps({
            "arguments": vars(args) | {"json": str(args.json)}, "postgresql": pg.version,
            "rounds": [asdict(r) | {"per_second": r.per_second,
                                    "cpu_ms_per_run": r.cpu_ms_per_run} for r in rounds],
            "model": {"cpu_s_per_task_run": cost, "saturating_workers": limit,
                      "fleets": [asdict(f) for f in fleets], "designs": designs}},
            indent=2, default=str) + "\n",
            encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
